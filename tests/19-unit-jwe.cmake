# Unit tests for JWE (lib/jwe.c, lib/jwe_crypto.c through lib/jwe_internal.h):
# RFC 7518 B.3 / C and RFC 3394 vectors for the primitives, encrypt ->
# decrypt for every alg, enc, key and serialization, and every refusal of a
# hostile message (wrong key, each part tampered, zip, crit, unsupported
# alg/enc, nesting, oversize, truncated and malformed input) with its reason.
# Keys are made at test time.
add_executable(test_jwe ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_jwe.c)
target_include_directories(test_jwe PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(test_jwe PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_jwe PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.jwe COMMAND test_jwe)
# cjose's own one-byte leak when it decrypts ECDH-ES (see the file).
set_tests_properties(unit.jwe PROPERTIES TIMEOUT 120 LABELS unit
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/unit/lsan-cjose.supp:print_suppressions=0")
