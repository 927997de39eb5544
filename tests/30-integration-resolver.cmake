# Integration tests of the resolver (lib/resolver.c), the cache on top of it
# and `dance lookup`, against a real signed DNS tree served by knotd
# (tests/testbed/dnstestbed.py). Each test class is its own ctest test so
# that ctest -j2 can run them side by side (each starts its own knotd on a
# free port).
add_executable(cache_probe ${CMAKE_CURRENT_SOURCE_DIR}/integration/cache_probe.c)
target_link_libraries(cache_probe PRIVATE dance Threads::Threads)
set_target_properties(cache_probe PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

foreach(case Lookup SignatureLifetime TrustAnchor Transport Upstreams DnsOverTls ServerDown ConfigErrors Cache SingleFlight
             TestbedCommandLine)
  add_test(NAME integration.resolver.${case}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_resolver.py
                   -v ${case})
  set_tests_properties(integration.resolver.${case} PROPERTIES
    TIMEOUT 60 LABELS integration
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR};DANCE_CACHE_PROBE=$<TARGET_FILE:cache_probe>")
endforeach()

# The asynchronous resolver (lib/resolver_async.c): many lookups in flight on
# one context, driven by resolver_async_probe.
add_executable(resolver_async_probe
               ${CMAKE_CURRENT_SOURCE_DIR}/integration/resolver_async_probe.c)
target_link_libraries(resolver_async_probe PRIVATE dance Threads::Threads)
set_target_properties(resolver_async_probe PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

foreach(case ManyInFlight ZoneKeys ServerDown Failover Jitter Stop)
  add_test(NAME integration.resolver_async.${case}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_resolver_async.py
                   -v ${case})
  set_tests_properties(integration.resolver_async.${case} PROPERTIES
    TIMEOUT 120 LABELS integration
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR};DANCE_ASYNC_PROBE=$<TARGET_FILE:resolver_async_probe>")
endforeach()
