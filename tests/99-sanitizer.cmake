# Sanitizer build only (-DDANCE_SANITIZE=ON): no report may go unnoticed.
#
# A test that runs `dance` and expects exit status 1 would also pass when
# ASan or UBSan stopped the program with a report (their exit status is 1
# too), and a test that ignores a child's stderr never sees a report at all.
# So every test gets ASAN_OPTIONS/UBSAN_OPTIONS pointing at a log directory
# of its own name: every report of every instrumented process the test
# starts lands in sanitizer-logs/<test>.{asan,ubsan}.<pid>, whatever the
# test does with stderr. sanitizer.reset empties the directory before the
# run (fixture setup); sanitizer.reports runs after every test and fails,
# naming the tests and showing the reports, when any file is there.
# The broker keeps its own options (the plugin fixture sets them and checks
# the broker's output itself). This file sorts last so that it sees every
# test the other fragments registered.
if(DANCE_SANITIZE)
  # The benchmark smoke run (tests/60-bench.cmake) measures speed, which
  # means nothing under the sanitizers, and starts brokers of its own without
  # the ASan runtime preloaded, so the instrumented plugin cannot load there.
  if(TEST bench.quick)
    set_tests_properties(bench.quick PROPERTIES DISABLED TRUE)
  endif()
  set(_dance_san_logs ${CMAKE_BINARY_DIR}/sanitizer-logs)
  get_property(_dance_all_tests DIRECTORY PROPERTY TESTS)
  foreach(t ${_dance_all_tests})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
      "ASAN_OPTIONS=log_path=${_dance_san_logs}/${t}.asan:detect_leaks=1:halt_on_error=1"
      "UBSAN_OPTIONS=log_path=${_dance_san_logs}/${t}.ubsan:halt_on_error=1:print_stacktrace=1")
    set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED dance_sanitizer_logs)
  endforeach()
  add_test(NAME sanitizer.reset
           COMMAND ${CMAKE_COMMAND} -E rm -rf ${_dance_san_logs})
  add_test(NAME sanitizer.mkdir
           COMMAND ${CMAKE_COMMAND} -E make_directory ${_dance_san_logs})
  add_test(NAME sanitizer.reports
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/sanitizer_reports.py
                   ${_dance_san_logs})
  set_tests_properties(sanitizer.reset PROPERTIES
    FIXTURES_SETUP dance_sanitizer_logs LABELS sanitizer)
  set_tests_properties(sanitizer.mkdir PROPERTIES
    FIXTURES_SETUP dance_sanitizer_logs DEPENDS sanitizer.reset LABELS sanitizer)
  set_tests_properties(sanitizer.reports PROPERTIES
    FIXTURES_CLEANUP dance_sanitizer_logs LABELS sanitizer)
endif()
