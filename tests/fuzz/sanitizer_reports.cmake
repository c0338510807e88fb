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
  # A process SIGKILLed while LeakSanitizer scans at its exit (a stop
  # timeout on a loaded host) leaves an empty log, or only the scan's own
  # "Unable to get registers from thread N." lines: no finding in either.
  # Noted, not failed; any other text is a report.
  set(findings 0)
  foreach(r IN LISTS reports)
    # Named TEST.asan.PID or TEST.ubsan.PID.
    get_filename_component(name ${r} NAME)
    file(READ ${r} text)
    string(REGEX REPLACE "==[0-9]+==Unable to get registers from thread [0-9]+\\.\n?" "" rest "${text}")
    string(STRIP "${rest}" rest)
    if(rest STREQUAL "")
      message(STATUS "${name}: interrupted at exit, no finding: \"${text}\"")
    else()
      message("==== ${name} ====\n${text}")
      math(EXPR findings "${findings} + 1")
    endif()
  endforeach()
  if(findings EQUAL 0)
    message(STATUS "no sanitizer findings in ${DIR} (${n} interrupted logs)")
    return()
  endif()
  message(FATAL_ERROR "${findings} sanitizer report(s) in ${DIR}: see above (file names: TEST.asan|ubsan.PID)")
else()
  message(FATAL_ERROR "MODE must be clear or check, got ${MODE}")
endif()
