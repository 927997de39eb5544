# Plugin integration: an edge broker bridged to a hub broker, both with the
# plugin (tests/integration/test_federation.py): a device's message signed
# on the edge reaches the hub's backend once, verified again by the hub;
# forged copies from a forwarder are refused and counted, non-forwarders
# cannot write under forwarded/ (publish, retained, will), a copy arriving
# twice is delivered once, a hub without DNS publishes nothing unverified.
# Uses the broker environment set up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME integration.plugin.federation
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_federation.py -v)
  set_tests_properties(integration.plugin.federation PROPERTIES
    TIMEOUT 240 LABELS "integration;plugin"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
