# JWE with `dance encrypt` / `dance decrypt` / `dance verify --decrypt-key`
# against an independent implementation (python3-jwcrypto): its messages for
# every alg/enc we accept decrypt, tampered and unsupported ones are refused
# with the right reason and exit status and nothing on stdout, the DANCE
# prototype's JWE(JWS) decrypts and verifies, and ours decrypt with jwcrypto.
add_test(NAME cli.jwe_interop
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_jwe_interop.py
                 --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(cli.jwe_interop PROPERTIES TIMEOUT 120 LABELS "unit;cli")

# `dance encrypt --to NAME` with the key from a real signed DNS tree
# (tests/testbed/dnstestbed.py, knotd): 3 0 0 and 3 1 0 records, no key
# (no record, digest only, insecure, bogus, server down) with its exit
# status, and sign -> encrypt -> `dance verify --decrypt-key` against DNS.
add_test(NAME integration.jwe_cli
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_jwe_cli.py -v)
set_tests_properties(integration.jwe_cli PROPERTIES
  TIMEOUT 120 LABELS "integration;cli"
  ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")

# JWE with npm's jose: its messages (committed vectors, every alg/enc, both
# nestings) decrypt and verify with `dance decrypt` / `dance verify
# --decrypt-key`; with jose installed (DANCE_JOSE_MODULES) jose decrypts and
# verifies what this project makes, live; otherwise that part is skipped.
add_test(NAME cli.jose_interop
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_jose_interop.py
                 --build-dir ${CMAKE_BINARY_DIR} -v)
set_tests_properties(cli.jose_interop PROPERTIES TIMEOUT 90 LABELS "unit;cli")
