# Unit tests of the escaping rule and the reason writer (lib/error.c), and of
# the status names (lib/status.c).
add_executable(test_escape ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_escape.c)
target_link_libraries(test_escape PRIVATE dance PkgConfig::CMOCKA)
set_target_properties(test_escape PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.escape COMMAND test_escape)
set_tests_properties(unit.escape PROPERTIES TIMEOUT 60 LABELS unit)
