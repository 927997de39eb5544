# The docker-compose scenario (docker-compose.yml, examples/docker/).
#
# compose.config: docker-compose.yml is valid (`docker-compose config`),
# every path it refers to exists and every published port is on 127.0.0.1
# (no Docker engine needed).
# compose.run: the scenario for real (tests/integration/compose_run.py):
# dockerd started if none runs, the debian:12 base image made locally
# (scripts/debian-root + docker import, no registry), docker-compose up,
# readings verified, rogue refused, dev2 revoked and disconnected, then
# docker-compose down -v and the project's images removed, also on failure
# or timeout. Caches in build/compose/ and in the engine (debian:12,
# mosquitto-dance-demo-deps:cache): about 12 minutes the first time
# (debootstrap 6, packages 3, build and scenario 3), 3 after.
# Skipped (exit 77) when not root or when dockerd cannot start. Its images
# build their own, uninstrumented binaries, so the sanitizer suite does not
# run it.
add_test(NAME compose.config
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_compose.py -v)
set_tests_properties(compose.config PROPERTIES TIMEOUT 60 LABELS "demo;compose")

add_test(NAME compose.run
         COMMAND ${DANCE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/compose_run.py
                 --work ${CMAKE_BINARY_DIR}/compose --timeout 1800
                 --debian-root ${CMAKE_BINARY_DIR}/debian-root/bookworm.tar)
# The Debian root tarball is the package test's too (tests/90-install.cmake):
# one debootstrap, whichever test comes first.
set_tests_properties(compose.run PROPERTIES TIMEOUT 2400 LABELS "compose"
                     SKIP_RETURN_CODE 77 RESOURCE_LOCK dance_debian_root)
if(DANCE_SANITIZE)
  set_tests_properties(compose.run PROPERTIES DISABLED TRUE)
endif()
