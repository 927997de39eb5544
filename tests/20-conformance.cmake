# Conformance: OpenSSL's DANE test vectors through dance_match (lib/dane.c).
# The vectors are kept in tests/conformance/openssl-dane/ (Apache-2.0, see its
# README.md), so that a plain clone runs them.
set(DANCE_DANE_VECTORS ${CMAKE_CURRENT_SOURCE_DIR}/conformance/openssl-dane)

add_executable(dane_conformance ${CMAKE_CURRENT_SOURCE_DIR}/conformance/dane_conformance.c)
target_link_libraries(dane_conformance PRIVATE dance)
set_target_properties(dane_conformance PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

set(DANCE_DANE_VECTOR_FILES danetest.in danetest.pem dane-cross.in cross-root.pem)
set(DANCE_DANE_MISSING "")
foreach(f ${DANCE_DANE_VECTOR_FILES})
  if(NOT EXISTS ${DANCE_DANE_VECTORS}/${f})
    list(APPEND DANCE_DANE_MISSING ${f})
  endif()
endforeach()

if(DANCE_DANE_MISSING)
  # The build must still work without the vectors; the tests fail loudly.
  set(DANCE_DANE_MSG
      "OpenSSL DANE conformance vectors missing in ${DANCE_DANE_VECTORS}: ${DANCE_DANE_MISSING}. They belong in tests/conformance/openssl-dane/.")
  message(WARNING "${DANCE_DANE_MSG}")
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/dane_vectors_missing.cmake
       "message(FATAL_ERROR \"${DANCE_DANE_MSG}\")\n")
  foreach(t conformance.openssl_danetest conformance.openssl_dane_cross)
    add_test(NAME ${t}
             COMMAND ${CMAKE_COMMAND} -P ${CMAKE_CURRENT_BINARY_DIR}/dane_vectors_missing.cmake)
  endforeach()
else()
  # Last argument: the number of cases each file must hold (54 and 1).
  add_test(NAME conformance.openssl_danetest
           COMMAND dane_conformance example.com
                   ${DANCE_DANE_VECTORS}/danetest.pem
                   ${DANCE_DANE_VECTORS}/danetest.in 54)
  add_test(NAME conformance.openssl_dane_cross
           COMMAND dane_conformance server.example
                   ${DANCE_DANE_VECTORS}/cross-root.pem
                   ${DANCE_DANE_VECTORS}/dane-cross.in 1)
endif()
set_tests_properties(conformance.openssl_danetest conformance.openssl_dane_cross
                     PROPERTIES TIMEOUT 60 LABELS conformance)
