# What `cmake --install` puts where, as Debian puts its kind (GNUInstallDirs;
# CMAKE_INSTALL_PREFIX, --prefix and DESTDIR honoured). cpack -G DEB packs the
# same tree (cmake/Packaging.cmake). Examples, benchmarks and tests are not
# installed.

# The CLI. It links libdance statically, so it needs no RPATH.
install(TARGETS dance_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# libdance.so.0 (SONAME, version) with its libdance.so link, and libdance.a.
install(TARGETS dance_shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS dance
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# `--strip` (and cpack) strip executables and shared objects only; the
# static library loses its debug information (and with it the build's
# paths) as Debian's dh_strip does it.
find_program(DANCE_STRIP NAMES ${CMAKE_STRIP} strip)
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${DANCE_STRIP}\" --strip-debug
      \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libdance.a\"
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"cannot strip libdance.a\")
    endif()
  endif()")

# The public headers: every header in include/dance but the internal ones
# (hash table, atomic file; not exported from libdance.so), and the generated version.h.
file(GLOB DANCE_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/dance/*.h)
list(REMOVE_ITEM DANCE_PUBLIC_HEADERS ${PROJECT_SOURCE_DIR}/include/dance/hashtab.h
                                        ${PROJECT_SOURCE_DIR}/include/dance/atomicfile.h)
install(FILES ${DANCE_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/include/dance/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dance)

# The plugin, where Mosquitto's own plugins live.
if(DANCE_BUILD_PLUGIN)
  install(TARGETS mosquitto_dance LIBRARY DESTINATION ${DANCE_MOSQUITTO_PLUGIN_DIR})
endif()

# The manual pages, compressed (man/CMakeLists.txt).
foreach(page ${DANCE_MAN_INSTALL})
  string(REGEX MATCH "[0-9]\\.gz$" section "${page}")
  string(SUBSTRING "${section}" 0 1 section)
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

# libdance.pc and the conf.d snippet name installed paths, so they are
# written at install time for the prefix actually installed to (--prefix,
# or /usr when cpack builds the package), not the one configured.
configure_file(${CMAKE_CURRENT_LIST_DIR}/install-generated.cmake.in
               ${PROJECT_BINARY_DIR}/install-generated.cmake @ONLY)
install(SCRIPT ${PROJECT_BINARY_DIR}/install-generated.cmake)
