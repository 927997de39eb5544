# Conformance: OpenSSL's DANE test vectors through dance_match (lib/dane.c).
# The vectors live beside the checkout in ${DANCE_SHARED_DIR} (present in CI).
set(DANCE_DANE_VECTORS ${DANCE_SHARED_DIR}/conformance/openssl-dane)
if(NOT EXISTS ${DANCE_DANE_VECTORS}/danetest.in
   OR NOT EXISTS ${DANCE_DANE_VECTORS}/dane-cross.in)
  message(FATAL_ERROR
    "OpenSSL DANE conformance vectors not found in ${DANCE_DANE_VECTORS} "
    "(expected danetest.in, danetest.pem, dane-cross.in, cross-root.pem). "
    "Check out the shared directory beside the project or set "
    "-DDANCE_SHARED_DIR=/path/to/shared.")
endif()

add_executable(dane_conformance ${CMAKE_CURRENT_SOURCE_DIR}/conformance/dane_conformance.c)
target_link_libraries(dane_conformance PRIVATE dance)
set_target_properties(dane_conformance PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# Last argument: the number of cases each file must hold (54 and 1).
add_test(NAME conformance.openssl_danetest
         COMMAND dane_conformance example.com
                 ${DANCE_DANE_VECTORS}/danetest.pem
                 ${DANCE_DANE_VECTORS}/danetest.in 54)
add_test(NAME conformance.openssl_dane_cross
         COMMAND dane_conformance server.example
                 ${DANCE_DANE_VECTORS}/cross-root.pem
                 ${DANCE_DANE_VECTORS}/dane-cross.in 1)
set_tests_properties(conformance.openssl_danetest conformance.openssl_dane_cross
                     PROPERTIES TIMEOUT 60 LABELS conformance)
