# `dance token` (make tokens; checked with python3-jwcrypto) and
# `dance token --verify` against a real signed DNS tree (knotd test bed):
# raw key 3 1 0, 3 1 1 + x5c, every refusal, allow-list without queries.
# Also `dance tlsa --key` (records for raw public keys). One ctest test per
# class so that ctest -j2 runs them side by side.
foreach(case Make Verify)
  add_test(NAME integration.token_cli.${case}
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_token_cli.py
                   -v ${case})
  set_tests_properties(integration.token_cli.${case} PROPERTIES
    TIMEOUT 90 LABELS "integration;cli"
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()
