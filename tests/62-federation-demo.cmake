# The federation demo: scripts/federation-demo runs examples/federation/
# (HAProxy in front of two edge brokers bridged to a hub, one shared
# unbound, the DNSSEC test bed) and its failover (an edge stopped with
# SIGTERM and restarted, an edge killed with SIGKILL), the hub away while
# a device publishes, a revocation, and exits 0 only when every check held
# (about 35 s; 60 s in the sanitizer build). Same sanitizer preload as the demo
# (tests/61-demo.cmake, which sets _dance_demo_env).
if(DANCE_BUILD_PLUGIN)
  add_test(NAME demo.federation
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/federation-demo --no-install --no-build
                   --build-dir ${CMAKE_BINARY_DIR})
  set_tests_properties(demo.federation PROPERTIES TIMEOUT 240 LABELS "integration;demo"
                       ENVIRONMENT "${_dance_demo_env}")
endif()
