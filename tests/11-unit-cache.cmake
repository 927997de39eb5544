# Unit tests for the TLSA answer cache (lib/cache.c): expiry on a fake
# clock, LRU eviction, flush, counters, single flight and waiting with real
# threads, allocation failures (malloc/calloc/realloc wrapped at link time;
# libdance is static, so its calls go through the wrappers too).
add_executable(test_cache ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cache.c)
target_link_libraries(test_cache PRIVATE dance PkgConfig::CMOCKA Threads::Threads)
target_link_options(test_cache PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
set_target_properties(test_cache PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.cache COMMAND test_cache)
set_tests_properties(unit.cache PROPERTIES TIMEOUT 60 LABELS unit)

# Unit tests for the hash table under the caches (lib/hashtab.c): chains,
# growth (calloc wrapped to make it fail), iteration with removal, the
# keyed hash against known answers.
add_executable(test_hashtab ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_hashtab.c)
target_link_libraries(test_hashtab PRIVATE dance PkgConfig::CMOCKA)
target_link_options(test_hashtab PRIVATE -Wl,--wrap=calloc)
set_target_properties(test_hashtab PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.hashtab COMMAND test_hashtab)
set_tests_properties(unit.hashtab PROPERTIES TIMEOUT 60 LABELS unit)
