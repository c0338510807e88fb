# SPDX-License-Identifier: Apache-2.0
# Hardening: sanitizer settings for every test of a -DSANITIZE build, the
# fuzz smoke test, and (-DFUZZ=ON) the libFuzzer targets themselves.
# Included last from tests/CMakeLists.txt.

# ---- -DSANITIZE=address,undefined: any finding fails the suite ----
#
# A finding in a unit test fails it through the exit code. But e2e tests
# run ringfleetd, which runs workers: a worker that dies of a finding is
# simply restarted, and a leak report at a worker's exit only changes an
# exit status no test looks at. So every sanitized process writes its
# reports to files named after the test (log_path), and the fixture test
# sanitizer_reports, which runs after all others, fails and prints them
# if any appeared. halt/abort_on_error also kill the process at the first
# error, so the test that hit it usually fails by itself too.
if(SANITIZE)
  set(RF_SANITIZER_LOGS ${PROJECT_BINARY_DIR}/sanitizer-reports)
  set(RF_SANITIZER_CHECK ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/sanitizer_reports.cmake)
  # Known leaks, each with its owner told; see the file.
  set(RF_LSAN_SUPP ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/lsan.supp)

  # Deferred to the end of this directory, so that tests registered after
  # this file is included get the settings as well.
  function(rf_sanitizer_env)
    get_property(tests DIRECTORY PROPERTY TESTS)
    foreach(t IN LISTS tests)
      # fuzz_smoke runs its own clang build with its own options.
      if(t MATCHES "^(fuzz_smoke|sanitizer_reports.*)$")
        continue()
      endif()
      set(log ${RF_SANITIZER_LOGS}/${t})
      set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
        "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:log_path=${log}.asan"
        "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=${log}.ubsan"
        "LSAN_OPTIONS=suppressions=${RF_LSAN_SUPP}:print_suppressions=0")
      set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED sanitizer_reports)
    endforeach()
  endfunction()
  cmake_language(DEFER CALL rf_sanitizer_env)

  add_test(NAME sanitizer_reports_clear COMMAND ${CMAKE_COMMAND}
    -DDIR=${RF_SANITIZER_LOGS} -DMODE=clear -P ${RF_SANITIZER_CHECK})
  add_test(NAME sanitizer_reports COMMAND ${CMAKE_COMMAND}
    -DDIR=${RF_SANITIZER_LOGS} -DMODE=check -P ${RF_SANITIZER_CHECK})
  set_tests_properties(sanitizer_reports_clear PROPERTIES
    FIXTURES_SETUP sanitizer_reports LABELS sanitize)
  set_tests_properties(sanitizer_reports PROPERTIES
    FIXTURES_CLEANUP sanitizer_reports LABELS sanitize)
endif()

# ---- fuzzing ----
#
# The default build uses gcc, which has no libFuzzer, so fuzz_smoke builds
# the fuzzers with clang in a build directory of its own (kept between
# runs, with the corpus each run grows) and runs each one for a bounded
# time. A -DFUZZ=ON build is that directory itself.
if(FUZZ)
  add_subdirectory(fuzz)
  set(RF_FUZZ_BUILD ${PROJECT_BINARY_DIR})
else()
  set(RF_FUZZ_BUILD ${PROJECT_BINARY_DIR}/fuzz)
endif()
# 16 s per target: five targets stay within the 90 s three took at 30 s.
add_test(NAME fuzz_smoke COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh
  -b ${RF_FUZZ_BUILD} -t 16)
# RUN_SERIAL: a fuzzer keeps a core busy for its whole run, which would
# starve the timing-sensitive e2e tests running beside it on 2 cores.
set_tests_properties(fuzz_smoke PROPERTIES
  LABELS fuzz TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
