# Plugin integration: hostile token fields and client ids never reach the
# broker log raw (tests/integration/test_plugin_escape.py). Uses the broker
# environment set up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME integration.plugin.escape
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_plugin_escape.py -v)
  set_tests_properties(integration.plugin.escape PROPERTIES
    TIMEOUT 120 LABELS "integration;plugin"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
