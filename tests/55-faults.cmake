# Fault-injection integration tests (tests/integration/test_faults.py): the
# real broker with the plugin while the DNS server is killed, slow (5 s,
# through tests/integration/dnsproxy.py) or answering SERVFAIL, while
# signatures turn bogus under connected clients, during SIGHUP reloads
# under traffic, under a CONNECT flood from outside allowed_domains, and
# with signed-message floods (10,000 malformed payloads, a verification
# queue overflowing, clocks skewed beyond max_skew). One ctest test per
# class, each with its own test bed and broker on free ports.
if(DANCE_BUILD_PLUGIN)
  find_program(DANCE_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin NO_DEFAULT_PATH)
  set(_dance_faults_env
      "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}"
      "DANCE_MOSQUITTO=${DANCE_MOSQUITTO_BROKER}")
  if(DANCE_SANITIZE)
    # as in 50-integration-plugin.cmake: preload ASan into the broker
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE _dance_faults_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND _dance_faults_env
         "DANCE_MOSQUITTO_PRELOAD=${_dance_faults_libasan}"
         "DANCE_MOSQUITTO_ASAN_OPTIONS=detect_leaks=1")
  endif()
  foreach(case DnsKilled Slowloris ServfailStorm BogusUnderClients ReloadUnderTraffic
               OutsideFlood MalformedFlood QueueOverflow ClockSkew)
    add_test(NAME integration.faults.${case}
             COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_faults.py
                     -v ${case})
    set_tests_properties(integration.faults.${case} PROPERTIES
      TIMEOUT 180 LABELS "integration;plugin;faults"
      ENVIRONMENT "${_dance_faults_env}")
  endforeach()
endif()
