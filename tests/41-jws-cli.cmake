# Integration tests of `dance sign` / `dance verify` against a real signed
# DNS tree (tests/testbed/dnstestbed.py, knotd): verified with each record
# kind, revoked, bogus, insecure, server down, allow-list without queries.
# One ctest test per class so that ctest -j2 runs them side by side.
foreach(case Verified Refused)
  add_test(NAME integration.jws_cli.${case}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_jws_cli.py
                   -v ${case})
  set_tests_properties(integration.jws_cli.${case} PROPERTIES
    TIMEOUT 90 LABELS "integration;cli"
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()
