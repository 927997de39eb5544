# Install and package (label install).
#
# install.tree: `cmake --install` into a temporary DESTDIR; the tree, the
# shared library's SONAME and exports, programs built with pkg-config
# against the installed headers and libraries (shared and static), the
# installed CLI, and the installed conf.d snippet loaded by the real
# mosquitto (tests/integration/test_install.py).
# install.package: `cpack -G DEB`, then the .deb installed with apt-get in
# a throw-away Debian 12 chroot (scripts/debian-root, cached as
# build/debian-root/bookworm.tar) and checked there, then removed and
# purged (tests/integration/test_package.py). Needs root and the apt
# mirror: skipped (exit 77) without them. Not run in sanitizer builds: a
# package of instrumented binaries is not what ships.
set(_dance_install_env "")
if(DANCE_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _dance_install_libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND _dance_install_env
       "DANCE_TEST_CFLAGS=-fsanitize=address,undefined"
       "DANCE_MOSQUITTO_PRELOAD=${_dance_install_libasan}"
       "DANCE_MOSQUITTO_ASAN_OPTIONS=detect_leaks=0")
endif()
add_test(NAME install.tree
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_install.py
                 --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(install.tree PROPERTIES TIMEOUT 180 LABELS install
                     RESOURCE_LOCK dance_install
                     ENVIRONMENT "CC=${CMAKE_C_COMPILER};${_dance_install_env}")
if(NOT DANCE_SANITIZE AND DANCE_BUILD_PLUGIN)
  add_test(NAME install.package
           COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_package.py
                   --build-dir ${CMAKE_BINARY_DIR})
  # The first run makes the Debian root (debootstrap, minutes); later runs
  # take it from the cache.
  set_tests_properties(install.package PROPERTIES TIMEOUT 1500 LABELS install
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK "dance_install;dance_debian_root"
                       ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
endif()
