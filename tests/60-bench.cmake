# Smoke run of the benchmarks: scripts/bench --quick runs a short version of
# every figure (bench/bench.py) and exits non-zero only when a figure's line
# is missing or could not be measured. No benchmark figure or ratio is ever
# asserted here: speed is for the benchmarks, not for the test suite.
# RUN_SERIAL: it starts brokers and load generators that would slow down
# (and be slowed by) tests running beside it.
if(DANCE_BUILD_PLUGIN)
  add_test(NAME bench.quick
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/bench --quick)
  set_tests_properties(bench.quick PROPERTIES
    TIMEOUT 240 LABELS bench RUN_SERIAL TRUE
    ENVIRONMENT "DANCE_BUILD_DIR=${CMAKE_BINARY_DIR}")
endif()
