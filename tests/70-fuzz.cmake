# A short run of every libFuzzer harness (tests/fuzz/README.md). The
# harnesses need clang, so scripts/fuzz builds them in a clang tree of its
# own inside this build directory (fuzz-clang/, configured with
# -DDANCE_FUZZ=ON); fuzz.build does that once, then each harness runs for
# 6 s on its committed corpus, one at a time (RESOURCE_LOCK), about a minute
# in all. A crash, sanitizer report, leak or broken invariant fails the
# test; the input is left in fuzz-clang/fuzz-work/<harness>/. Without clang
# the tests are skipped (exit 77). Not registered in the sanitizer build:
# the fuzzers already run under ASan and UBSan.
if(NOT DANCE_SANITIZE AND NOT DANCE_FUZZ)
  set(_dance_fuzz_dir ${CMAKE_BINARY_DIR}/fuzz-clang)
  add_test(NAME fuzz.build
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz --build-only --build-dir ${_dance_fuzz_dir})
  set_tests_properties(fuzz.build PROPERTIES
    TIMEOUT 600 LABELS fuzz SKIP_RETURN_CODE 77 FIXTURES_SETUP dance_fuzz_tree)
  foreach(h fuzz_jws_parse fuzz_jws_verify fuzz_dns_uri fuzz_cert_names
            fuzz_tlsa fuzz_plugin_options fuzz_names fuzz_topics fuzz_token fuzz_cose fuzz_jwe)
    add_test(NAME fuzz.${h}
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz --skip-build --seconds 6
                     --build-dir ${_dance_fuzz_dir} ${h})
    set_tests_properties(fuzz.${h} PROPERTIES
      TIMEOUT 60 LABELS fuzz SKIP_RETURN_CODE 77
      FIXTURES_REQUIRED dance_fuzz_tree RESOURCE_LOCK dance_fuzz)
  endforeach()
endif()
