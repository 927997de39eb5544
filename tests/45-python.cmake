# The Python module `dance` (python/dance, ctypes over libdance.so.0) and
# the example backend in Python (examples/python/backend.py): offline use
# against the C CLI, npm jose vectors, the DNSSEC test bed, every refusal
# as its exception, threads during slow DNS, memory over 100,000 calls,
# and the example beside the C backend against a real broker. One ctest
# test per class so that ctest -j2 runs them side by side.
set(_dance_python_env
    "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}"
    "DANCE_LIBRARY=$<TARGET_FILE:dance_shared>")
if(DANCE_SANITIZE)
  # The library is built with ASan, python3 is not: tests/python/
  # sanitizer_preload.py restarts the tests with the runtime preloaded.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _dance_py_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND _dance_python_env "DANCE_PYTHON_PRELOAD=${_dance_py_libasan}")
endif()

foreach(case Offline Refusals JoseOffline Decrypt Memory Dns JoseDns Threads)
  add_test(NAME python.dance.${case}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_dance.py -v ${case})
  set_tests_properties(python.dance.${case} PROPERTIES
    TIMEOUT 300 LABELS "python" ENVIRONMENT "${_dance_python_env}")
endforeach()
# 100,000 calls: about 45 s on an idle 2-core machine; room for a busy one.
set_tests_properties(python.dance.Memory PROPERTIES TIMEOUT 900)

if(DANCE_BUILD_PLUGIN)
  # The broker of the plugin fixture, preloaded as in 50-integration-plugin.cmake.
  set(_dance_backend_env ${_dance_python_env})
  if(DANCE_SANITIZE)
    list(APPEND _dance_backend_env "DANCE_MOSQUITTO_PRELOAD=${_dance_py_libasan}"
                                   "DANCE_MOSQUITTO_ASAN_OPTIONS=detect_leaks=1")
  endif()
  add_test(NAME python.backend
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_backend.py -v)
  set_tests_properties(python.backend PROPERTIES
    TIMEOUT 180 LABELS "python;integration;plugin" ENVIRONMENT "${_dance_backend_env}")
endif()
