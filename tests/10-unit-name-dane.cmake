# Unit tests for names (lib/name.c) and DANE matching (lib/dane.c).
# Certificates are made at test time by tests/unit/testcerts.c.
foreach(t test_name test_dane)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c
                      ${CMAKE_CURRENT_SOURCE_DIR}/unit/testcerts.c)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_link_libraries(${t} PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endforeach()

add_test(NAME unit.name COMMAND test_name)
add_test(NAME unit.dane COMMAND test_dane)
set_tests_properties(unit.name unit.dane PROPERTIES TIMEOUT 60 LABELS unit)
