# CLI contract tests: the built `dance` binary run as a real process, its
# results checked with the openssl tool and Python's hashlib
# (tests/integration/test_cli.py). One ctest test per command so that
# ctest -j2 runs them side by side.
foreach(group Keygen Cert Tlsa Match Dispatch)
  string(TOLOWER ${group} lower)
  add_test(NAME cli.${lower}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli.py
                   --build-dir ${CMAKE_BINARY_DIR} ${group}Tests)
  set_tests_properties(cli.${lower} PROPERTIES TIMEOUT 90 LABELS "cli;integration")
endforeach()

# Unit tests for lib/provision.c (keys, certificates, TLSA data).
add_executable(test_provision ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_provision.c)
target_link_libraries(test_provision PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_provision PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.provision COMMAND test_provision)
set_tests_properties(unit.provision PROPERTIES TIMEOUT 60 LABELS unit)
