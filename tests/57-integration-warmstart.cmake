# Plugin integration: the warm start (plugin_opt_identities_file,
# tests/integration/test_plugin_warmstart.py): after a restart with slow DNS
# the devices named in the file get in on their first try once the
# prefetch is done, a device revoked meanwhile is refused, the file holds
# only names (mode 0600), bad names are skipped, a corrupt or oversize file
# ignored and an unreadable one stops the broker. Uses the broker
# environment set up in 50-integration-plugin.cmake.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME integration.plugin.warmstart
           COMMAND ${DANCE_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_plugin_warmstart.py -v)
  set_tests_properties(integration.plugin.warmstart PROPERTIES
    TIMEOUT 300 LABELS "integration;plugin"
    ENVIRONMENT "${_dance_plugin_env}")
endif()
