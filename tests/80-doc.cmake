# Documentation: the manual pages render without a warning, every relative
# link in the Markdown pages resolves, every CLI flag has its entry in dance(1).
add_test(NAME doc.man_lint
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_man.py
                 ${DANCE_MAN_OUTPUTS})
add_test(NAME doc.links
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_links.py
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(doc.man_lint doc.links PROPERTIES TIMEOUT 60 LABELS "doc")
add_test(NAME doc.cli_flags
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_cli_doc.py
                 $<TARGET_FILE:dance_cli> ${PROJECT_SOURCE_DIR}/man/dance.1.scd)
set_tests_properties(doc.cli_flags PROPERTIES TIMEOUT 60 LABELS "doc")
# Every command the pages show in a shell block (getting-started.md apart,
# which integration.getting_started runs): offline dance commands run for
# real in a fresh directory, the rest checked against --help, CMakeLists.txt
# and ctest -N (tests/doc/check_doc_commands.py).
add_test(NAME doc.commands
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_doc_commands.py
                 ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} $<TARGET_FILE:dance_cli>)
set_tests_properties(doc.commands PROPERTIES TIMEOUT 120 LABELS "doc")
