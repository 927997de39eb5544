# Unit tests for the resolver's configuration handling (lib/resolver.c):
# upstream syntax, trust anchor files, transport needs. No DNS server needed
# (the lookup side is covered by tests/30-integration-resolver.cmake).
add_executable(test_resolver_config ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_resolver_config.c)
target_link_libraries(test_resolver_config PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_resolver_config PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.resolver_config COMMAND test_resolver_config)
set_tests_properties(unit.resolver_config PROPERTIES TIMEOUT 60 LABELS unit)
