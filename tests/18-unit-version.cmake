# Unit test of the version (dance/version.h, lib/version.c), against the
# shared library so that dance_version is known to be exported.
add_executable(test_version ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_version.c)
target_link_libraries(test_version PRIVATE dance_shared PkgConfig::CMOCKA)
target_compile_definitions(test_version PRIVATE
                           DANCE_EXPECTED_VERSION="${PROJECT_VERSION}")
set_target_properties(test_version PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.version COMMAND test_version)
set_tests_properties(unit.version PROPERTIES TIMEOUT 60 LABELS unit)
