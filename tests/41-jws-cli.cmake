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

# `dance sign --cose` / `dance verify` with COSE_Sign1 messages
# (tests/integration/test_cose_cli.py): offline round trips and refusals
# (cli.cose), and keys from the DNSSEC test bed (integration.cose_cli).
add_test(NAME cli.cose
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cose_cli.py
                 -v Offline)
set_tests_properties(cli.cose PROPERTIES TIMEOUT 90 LABELS "cli"
                     ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
add_test(NAME integration.cose_cli
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cose_cli.py
                 -v Dns)
set_tests_properties(integration.cose_cli PROPERTIES TIMEOUT 90 LABELS "integration;cli"
                     ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
