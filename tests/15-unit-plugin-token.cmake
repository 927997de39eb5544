# Unit tests for the plugin's token authentication parts without Mosquitto
# (plugin/options.c token_* options, decide.c verdicts, clients.c token
# entries and expiry scan, confscan.c plain listeners, workers.c token
# re-checks against cached answers).
if(DANCE_BUILD_PLUGIN)
  add_executable(test_plugin_token ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_plugin_token.c)
  target_link_libraries(test_plugin_token PRIVATE dance_plugin_core PkgConfig::CMOCKA
                                                  Threads::Threads)
  set_target_properties(test_plugin_token PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME unit.plugin_token COMMAND test_plugin_token)
  set_tests_properties(unit.plugin_token PROPERTIES TIMEOUT 60 LABELS "unit;plugin")
endif()
