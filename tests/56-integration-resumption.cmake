# Plugin integration: TLS 1.3 session resumption by devices
# (tests/integration/test_plugin_resumption.py): the broker resumes with its
# default listener settings, the plugin decides DANE on a resumed session
# exactly as on a full handshake (same identity, DANE-TA without a chain, a
# deleted record refused, an expired certificate refused), and a cold device
# refused as pending gets in on a resumed retry. Uses the broker environment
# set up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME integration.plugin.resumption
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_plugin_resumption.py -v)
  set_tests_properties(integration.plugin.resumption PROPERTIES
    TIMEOUT 180 LABELS "integration;plugin"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
