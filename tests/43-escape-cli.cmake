# `dance verify` and `dance token --verify` with hostile header and claim
# values (newline, CR, ESC, DEL, UTF-8, \u0000 in each field): the output is
# escaped, one line, no raw control byte. No DNS needed.
add_test(NAME cli.escape
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_escape_cli.py -v)
set_tests_properties(cli.escape PROPERTIES
  TIMEOUT 90 LABELS "cli;integration"
  ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
