# Unit tests for the plugin's Mosquitto-free parts (plugin/options.c,
# clients.c, confscan.c, decide.c, topics.c, workers.c, pipeline.c,
# identities.c, prefetch.c).
if(DANCE_BUILD_PLUGIN)
  foreach(t test_plugin_options test_plugin_core test_plugin_pipeline
            test_plugin_identities)
    add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c)
    target_link_libraries(${t} PRIVATE dance_plugin_core PkgConfig::CMOCKA Threads::Threads)
    set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  endforeach()
  target_sources(test_plugin_identities PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/testdir.c)
  target_compile_definitions(test_plugin_options PRIVATE
      DANCE_PLUGIN_DOC="${PROJECT_SOURCE_DIR}/man/mosquitto-dance.5.scd")

  add_test(NAME unit.plugin_options COMMAND test_plugin_options)
  add_test(NAME unit.plugin_core COMMAND test_plugin_core)
  add_test(NAME unit.plugin_pipeline COMMAND test_plugin_pipeline)
  add_test(NAME unit.plugin_identities COMMAND test_plugin_identities)
  set_tests_properties(unit.plugin_options unit.plugin_core unit.plugin_pipeline
      unit.plugin_identities PROPERTIES
      TIMEOUT 60 LABELS "unit;plugin")
endif()
