# Plugin integration: the trust boundary as an attacker with a valid client
# certificate tries it (tests/integration/test_trust_boundary.py): wills,
# bare prefixes, QoS 2 resends, replays, bridges, configuration spellings,
# a second plugin that skips BASIC_AUTH. Uses the broker environment set
# up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  # A plugin that admits MQTT v5 extended authentication "bypass-test": a
  # stand-in for a careless second authentication plugin.
  pkg_check_modules(DANCE_TEST_MOSQ REQUIRED IMPORTED_TARGET libmosquitto)
  add_library(dance_test_extauth MODULE integration/extauth_plugin.c)
  set_target_properties(dance_test_extauth PROPERTIES PREFIX ""
      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(dance_test_extauth PRIVATE
      $<TARGET_PROPERTY:PkgConfig::DANCE_TEST_MOSQ,INTERFACE_INCLUDE_DIRECTORIES>)

  add_test(NAME integration.plugin.trust_boundary
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_trust_boundary.py -v)
  set_tests_properties(integration.plugin.trust_boundary PROPERTIES
    TIMEOUT 300 LABELS "integration;plugin"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
