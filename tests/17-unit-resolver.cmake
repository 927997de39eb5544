# Unit tests for the resolver's configuration handling (lib/resolver.c):
# upstream syntax, trust anchor files, transport needs. No DNS server needed
# (the lookup side is covered by tests/30-integration-resolver.cmake).
add_executable(test_resolver_config ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_resolver_config.c)
target_link_libraries(test_resolver_config PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_resolver_config PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.resolver_config COMMAND test_resolver_config)
set_tests_properties(unit.resolver_config PROPERTIES TIMEOUT 60 LABELS unit)

# How a validated getdns response is read (lib/resolver.c through
# lib/resolver_internal.h): TTL and signature life from a zone-text fixture,
# and min_ttl never keeping a record past its RRSIG expiration.
add_executable(test_resolver_reply ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_resolver_reply.c)
target_include_directories(test_resolver_reply PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(test_resolver_reply PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_resolver_reply PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.resolver_reply COMMAND test_resolver_reply)
set_tests_properties(unit.resolver_reply PROPERTIES TIMEOUT 60 LABELS unit)
