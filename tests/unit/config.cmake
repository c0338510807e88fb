# SPDX-License-Identifier: Apache-2.0
# Config loader and CPU placement unit tests. Fixtures are read in place
# from the source tree (test_config chdirs there so error messages carry
# short file names).
rf_unit_test(test_config SOURCES unit/test_config.c LIBS rf_config)
target_compile_definitions(test_config PRIVATE
  RF_CONFIG_DATA="${CMAKE_CURRENT_SOURCE_DIR}/unit/data/config"
  RF_CONFIG_EXAMPLES="${PROJECT_SOURCE_DIR}/config/examples")

rf_unit_test(test_placement SOURCES unit/test_placement.c LIBS rf_placement)

# The per-server key table end to end: INI file -> cfg_load -> spawn.c's
# argv -> the worker's parser, and the same refusal from ringfleetd --check
# and ringfleet-worker (so it runs both binaries).
rf_unit_test(test_schema SOURCES unit/test_schema.c LIBS rf_supervisor rf_worker_args)
target_compile_definitions(test_schema PRIVATE RF_BIN_DIR="${PROJECT_BINARY_DIR}/bin")
add_dependencies(test_schema ringfleetd ringfleet-worker)

# Game module path safety (config/cfg_modpath.h) in a temporary directory
# under the build tree, whose ancestors are root's on a normal checkout.
rf_unit_test(test_modpath SOURCES unit/test_modpath.c LIBS rf_config)
target_compile_definitions(test_modpath PRIVATE RF_TEST_TMP="${CMAKE_CURRENT_BINARY_DIR}")
