# Unit tests for MQTT password tokens (lib/token.c on lib/jws*.c and
# lib/replay.c): sign -> verify with 3 1 0, 3 0 0 and 3 1 1 + x5c records,
# every refusal (expired, wrong audience, replay, wrong key, alg none/HS256,
# lifetime, kid != username, allow-list, malformed), DNS outcomes, re-checks.
add_executable(test_token ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_token.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/unit/jwstest.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/unit/testcerts.c)
target_include_directories(test_token PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(test_token PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
set_target_properties(test_token PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

add_test(NAME unit.token COMMAND test_token)
set_tests_properties(unit.token PROPERTIES TIMEOUT 60 LABELS unit)

# Unit tests for the replay cache (lib/replay.c): per-sender share and the
# choice of evictions (a flood never evicts another sender's pair), their
# counters, and persistence (save/load, wall-clock expiry, damaged files
# refused, atomic replacement).
add_executable(test_replay ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_replay.c
                           ${CMAKE_CURRENT_SOURCE_DIR}/unit/testdir.c)
target_link_libraries(test_replay PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
set_target_properties(test_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

add_test(NAME unit.replay COMMAND test_replay)
set_tests_properties(unit.replay PROPERTIES TIMEOUT 60 LABELS unit)
