# Integration tests of the Mosquitto plugin: the real /usr/sbin/mosquitto
# loads the built mosquitto_dance.so, a real DNSSEC test bed (knotd, see
# tests/testbed/dnstestbed.py) serves the TLSA records, real clients
# (paho-mqtt, mosquitto_pub/sub) connect with certificates made by the
# tests. One ctest test per file; each file shares one test bed and picks
# free ports, so ctest -j2 runs them side by side.
if(DANCE_BUILD_PLUGIN)
  find_program(DANCE_MOSQUITTO_BROKER mosquitto PATHS /usr/sbin NO_DEFAULT_PATH)
  set(_dance_plugin_env
      "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}"
      "DANCE_MOSQUITTO=${DANCE_MOSQUITTO_BROKER}")
  if(DANCE_SANITIZE)
    # The plugin is built with ASan; the broker is not, so the ASan runtime
    # must be preloaded into it. Leak checking stays on: the fixture gives
    # LeakSanitizer tests/integration/lsan-mosquitto.supp, which hides only
    # what Mosquitto allocates through its own wrappers.
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                    OUTPUT_VARIABLE _dance_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND _dance_plugin_env
         "DANCE_MOSQUITTO_PRELOAD=${_dance_libasan}"
         "DANCE_MOSQUITTO_ASAN_OPTIONS=detect_leaks=1")
  endif()

  foreach(file auth modes config dns_down revocation messages token flood encrypted)
    add_test(NAME integration.plugin.${file}
             COMMAND ${DANCE_PYTHON3}
                     ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_plugin_${file}.py -v)
    set_tests_properties(integration.plugin.${file} PROPERTIES
      TIMEOUT 120 LABELS "integration;plugin"
      ENVIRONMENT "${_dance_plugin_env}")
  endforeach()
endif()
