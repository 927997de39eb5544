# Unit tests for message-level JWS (lib/jws*.c, lib/replay.c): parsing and
# every refusal, sign -> verify for every algorithm and record kind, policy
# (iat, jti, topic), caches. Keys and certificates are made at test time
# (tests/unit/jwstest.c, testcerts.c).
foreach(t test_jws_parse test_jws_verify test_verifier)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c
                      ${CMAKE_CURRENT_SOURCE_DIR}/unit/jwstest.c
                      ${CMAKE_CURRENT_SOURCE_DIR}/unit/testcerts.c)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_link_libraries(${t} PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endforeach()

add_test(NAME unit.jws_parse COMMAND test_jws_parse)
add_test(NAME unit.jws_verify COMMAND test_jws_verify)
# The binding-facing API (dance/verifier.h, result accessors, PEM text).
add_test(NAME unit.verifier COMMAND test_verifier)
set_tests_properties(unit.jws_parse unit.jws_verify unit.verifier PROPERTIES TIMEOUT 60 LABELS unit)

# JWS made by an independent implementation (python3-jwcrypto) verify with
# `dance verify --key`, tampered ones do not, and ours verify with jwcrypto.
add_test(NAME unit.jws_interop
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_jws_interop.py
                 --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(unit.jws_interop PROPERTIES TIMEOUT 90 LABELS "unit;cli")

# COSE_Sign1 messages (lib/cose_*.c): round trips, hostile inputs with their
# reasons, the COSE working group's examples as fixed vectors
# (unit/cose-wg/README.md), policy, replay and the format dispatch. It
# reaches the library's internals (lib/) for the vectors' Sig_structure.
add_executable(test_cose ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cose.c
                         ${CMAKE_CURRENT_SOURCE_DIR}/unit/jwstest.c
                         ${CMAKE_CURRENT_SOURCE_DIR}/unit/testcerts.c)
target_include_directories(test_cose PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit
                                             ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(test_cose PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
set_target_properties(test_cose PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.cose COMMAND test_cose)
set_tests_properties(unit.cose PROPERTIES TIMEOUT 60 LABELS unit)

# COSE_Sign1 made by npm's cose-js verify with `dance verify --key`
# (committed vectors); with cose-js installed (DANCE_COSE_JS_MODULES) the
# two also sign for each other live, otherwise that part is skipped.
add_test(NAME unit.cose_interop
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cose_interop.py
                 --build-dir ${CMAKE_BINARY_DIR} -v)
set_tests_properties(unit.cose_interop PROPERTIES TIMEOUT 90 LABELS "unit;cli")
