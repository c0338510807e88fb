# SPDX-License-Identifier: Apache-2.0
# games: the example modules, loaded with dlopen into a fake engine
# (unit/fake_engine.c) as the worker loads them.
rf_unit_test(test_arena SOURCES unit/test_arena.c unit/fake_engine.c LIBS ${CMAKE_DL_LIBS})
target_compile_definitions(test_arena PRIVATE ARENA_SO="$<TARGET_FILE:arena>")
add_dependencies(test_arena arena)
