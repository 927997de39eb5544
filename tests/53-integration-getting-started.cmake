# doc/getting-started.md works as written: its shell blocks run in order in a
# fresh directory, against the DNSSEC test bed and the real broker with the
# built plugin, and the output the page shows is checked
# (tests/integration/test_getting_started.py). Uses the broker environment
# set up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME integration.getting_started
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_getting_started.py -v)
  set_tests_properties(integration.getting_started PROPERTIES
    TIMEOUT 400 LABELS "integration;doc"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
