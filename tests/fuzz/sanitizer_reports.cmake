# SPDX-License-Identifier: Apache-2.0
# cmake -DDIR=... -DMODE=clear|check -P sanitizer_reports.cmake
#
# The fixture around a sanitizer build's tests (see tests/fuzz.cmake):
# clear empties the directory sanitized processes write reports to; check
# fails, printing every report and the test it came from, if any exists.
if(NOT DIR OR NOT MODE)
  message(FATAL_ERROR "usage: cmake -DDIR=... -DMODE=clear|check -P ${CMAKE_SCRIPT_MODE_FILE}")
endif()

if(MODE STREQUAL "clear")
  file(REMOVE_RECURSE ${DIR})
  file(MAKE_DIRECTORY ${DIR})
  # Workers may run as another user (user = ...): let them write too.
  execute_process(COMMAND chmod 1777 ${DIR} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "chmod 1777 ${DIR} failed")
  endif()
elseif(MODE STREQUAL "check")
  file(GLOB reports ${DIR}/*)
  list(LENGTH reports n)
  if(n EQUAL 0)
    message(STATUS "no sanitizer reports in ${DIR}")
    return()
  endif()
  foreach(r IN LISTS reports)
    # Named TEST.asan.PID or TEST.ubsan.PID.
    get_filename_component(name ${r} NAME)
    file(READ ${r} text)
    message("==== ${name} ====\n${text}")
  endforeach()
  message(FATAL_ERROR "${n} sanitizer report(s) in ${DIR}: see above (file names: TEST.asan|ubsan.PID)")
else()
  message(FATAL_ERROR "MODE must be clear or check, got ${MODE}")
endif()
