# Documentation: the manual pages render without a warning, every relative
# link in the Markdown pages resolves.
add_test(NAME doc.man_lint
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_man.py
                 ${DANCE_MAN_OUTPUTS})
add_test(NAME doc.links
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/doc/check_links.py
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(doc.man_lint doc.links PROPERTIES TIMEOUT 60 LABELS "doc")
