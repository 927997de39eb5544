# cpack -G DEB: one Debian package, mosquitto-dance, of what `cmake --install`
# installs (cmake/Install.cmake), for /usr:
#
#   cmake --build build && (cd build && cpack -G DEB)
#
# Library dependencies come from dpkg-shlibdeps (dpkg-dev), which reads the
# ELF files and yields versioned libc6, libssl3, libgetdns10, libcjson1,
# libcjose0 and libcbor0.8 dependencies; the plugin also needs the broker
# that loads it.
set(CPACK_PACKAGE_NAME "mosquitto-dance")
set(CPACK_PACKAGE_VENDOR "mosquitto-dance")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# A placeholder until the project has a public address (lintian calls a
# localhost address bogus): set it when building a package to publish.
set(DANCE_PACKAGE_MAINTAINER "mosquitto-dance developers <mosquitto-dance@localhost>"
    CACHE STRING "Maintainer field of the Debian package (Name <address>)")
set(CPACK_PACKAGE_CONTACT "${DANCE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "DNS-bound device identities (DANE) for the Mosquitto MQTT broker")
set(CPACK_PACKAGE_DESCRIPTION
    "mosquitto-dance authenticates MQTT devices by their DNS names (IETF DANCE):
a Mosquitto 2.0 plugin matches each device's TLS client certificate, or a
token signed with its key, against the TLSA records published under its
name in a DNSSEC-signed zone, and verifies JWS-signed messages with keys
from DNS, republishing them under verified/. Removing a device's record
revokes it.
.
This package holds the plugin (mosquitto_dance.so), a configuration
snippet for /etc/mosquitto/conf.d that loads nothing until it is filled
in, the dance command-line tool (keys, certificates, TLSA records, signed
messages, tokens, DNSSEC lookups) and libdance, the library they share
(shared and static, headers, pkg-config file).")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_INSTALL_PREFIX "/usr")
# Install with DESTDIR into the staging tree, so that the install-time
# prefix is /usr (libdance.pc, the conf.d snippet) and /etc is allowed.
set(CPACK_SET_DESTDIR ON)
# Debian strips its binaries (debug symbols go to -dbgsym packages); this
# also keeps build paths out of the package.
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "mosquitto (>= 2.0)")
# Building against libdance needs the headers of its dependencies.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "pkg-config, libssl-dev, libgetdns-dev, libcjson-dev, libcjose-dev, libcbor-dev")
# A shlibs file for libdance.so.0, and ldconfig on install and removal.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# libc's ldconfig trigger, as Debian policy wants for a package with a
# shared library (CPack's postinst/postrm also run ldconfig directly).
file(WRITE ${PROJECT_BINARY_DIR}/cpack/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/cpack/triggers)
# The conf.d snippet is the operator's to edit: a conffile, kept across
# upgrades and on `dpkg -r`, removed by `dpkg --purge`.
if(DANCE_BUILD_PLUGIN)
  file(WRITE ${PROJECT_BINARY_DIR}/cpack/conffiles "/etc/mosquitto/conf.d/dance.conf\n")
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/cpack/conffiles)
endif()
set(CPACK_OUTPUT_FILE_PREFIX "${PROJECT_BINARY_DIR}/packages")
include(CPack)
