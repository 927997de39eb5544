# The demo and the docker-compose file.
#
# demo: scripts/demo runs the whole chain (DNSSEC test bed, unbound over
# DNS over TLS, mosquitto with the plugin, the example programs) and exits
# 0 only when every expectation it narrates held. It uses this build and
# installs nothing. Sanitizer builds preload the ASan runtime into the
# (uninstrumented) broker, as the plugin tests do; the example programs are
# instrumented themselves, so a leak or UB in them fails the demo's exit
# code checks.
# integration.examples: the example programs' contracts (test_examples.py).
# The docker-compose scenario has its own file: tests/66-compose.cmake.
if(DANCE_BUILD_PLUGIN)
  set(_dance_demo_env "")
  if(DANCE_SANITIZE)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE _dance_demo_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND _dance_demo_env
         "DANCE_MOSQUITTO_PRELOAD=${_dance_demo_libasan}"
         "DANCE_MOSQUITTO_ASAN_OPTIONS=detect_leaks=0")
  endif()
  add_test(NAME demo
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/demo --no-install --no-build
                   --build-dir ${CMAKE_BINARY_DIR})
  set_tests_properties(demo PROPERTIES TIMEOUT 120 LABELS "integration;demo"
                       ENVIRONMENT "${_dance_demo_env}")

  # examples: exit statuses, refusals (sender_mismatch, tampered) and the
  # backend's --count/--timeout contract, with the plugin test fixture.
  add_test(NAME integration.examples
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_examples.py -v)
  set_tests_properties(integration.examples PROPERTIES TIMEOUT 120
    LABELS "integration;demo"
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR};DANCE_MOSQUITTO=${DANCE_MOSQUITTO_BROKER};${_dance_demo_env}")
endif()
