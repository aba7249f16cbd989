# Debian packages, built with CPack (scripts/package.sh):
#   strata          /usr/bin/strata, /etc/strata/strata.toml (a conffile), the systemd unit and
#                   the man page;
#   libstrata-dev   the headers, the static layers, the CMake package and strata.pc.
# The service's files (absolute paths under /etc and /lib) belong to the package only: a plain
# `cmake --install` leaves them out (EXCLUDE_FROM_ALL).

set(STRATA_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(STRATA_DEBIAN_REVISION 1)
set(STRATA_MAINTAINER "Strata developers <strata-dev@lists.example.org>")

# Debian keeps changelogs and man pages compressed with gzip -9n (no name, no time stamp), so
# that rebuilding the same sources gives the same bytes.
function(strata_gzip_n input output)
  add_custom_command(OUTPUT ${output}
    COMMAND gzip -9nc ${input} > ${output}
    DEPENDS ${input} VERBATIM)
endfunction()

set(STRATA_PACKAGE_OUT ${PROJECT_BINARY_DIR}/package-files)
file(MAKE_DIRECTORY ${STRATA_PACKAGE_OUT})
configure_file(${STRATA_PACKAGING_DIR}/strata.1.in ${STRATA_PACKAGE_OUT}/strata.1 @ONLY)
configure_file(${STRATA_PACKAGING_DIR}/debian/changelog.in ${STRATA_PACKAGE_OUT}/changelog.Debian @ONLY)
strata_gzip_n(${STRATA_PACKAGE_OUT}/strata.1 ${STRATA_PACKAGE_OUT}/strata.1.gz)
strata_gzip_n(${STRATA_PACKAGE_OUT}/changelog.Debian ${STRATA_PACKAGE_OUT}/changelog.Debian.gz)
add_custom_target(strata_package_files ALL
  DEPENDS ${STRATA_PACKAGE_OUT}/strata.1.gz ${STRATA_PACKAGE_OUT}/changelog.Debian.gz)

install(FILES ${STRATA_PACKAGING_DIR}/strata.toml DESTINATION /etc/strata
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${STRATA_PACKAGING_DIR}/strata.service DESTINATION /lib/systemd/system
  COMPONENT server EXCLUDE_FROM_ALL)
install(FILES ${STRATA_PACKAGE_OUT}/strata.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  COMPONENT server EXCLUDE_FROM_ALL)
foreach(component_package IN ITEMS "server;strata" "dev;libstrata-dev")
  list(GET component_package 0 component)
  list(GET component_package 1 package)
  install(FILES ${STRATA_PACKAGING_DIR}/debian/copyright ${STRATA_PACKAGE_OUT}/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME strata)
set(CPACK_PACKAGE_VENDOR "Strata")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${STRATA_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${STRATA_DEBIAN_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${STRATA_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://strata.example.org")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME strata)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_SERVER_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_SERVER_DESCRIPTION "HTTP caching gateway with a shared Redis tier
strata serve sits in front of an HTTP API and answers repeated reads from an
in-process cache and, when configured, from Redis shared by every gateway:
request coalescing, stale copies when the origin fails, per-user entries,
invalidation by tag, namespace, user or pattern, content negotiation (gzip,
br, zstd), revalidation, HTTPS on both sides, an admin API and Prometheus
metrics.

This package runs it as the systemd service strata.service, configured in
/etc/strata/strata.toml.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${STRATA_PACKAGING_DIR}/debian/conffiles ${STRATA_PACKAGING_DIR}/debian/postinst
  ${STRATA_PACKAGING_DIR}/debian/prerm ${STRATA_PACKAGING_DIR}/debian/postrm)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libstrata-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE amd64)
# What the installed CMake package and strata.pc find (strataConfig.cmake.in, strata.pc.in).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libboost1.81-dev, libboost-json1.81-dev, libssl-dev, libfmt-dev, libspdlog-dev, libzstd-dev, pkgconf | pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION "layered cache library for C++20 services (development files)
libstrata is a cache-aside library for C++20 and Boost.Asio: an in-process
W-TinyLFU tier bounded by bytes, Redis (one server, Cluster or Sentinel)
shared between processes and kept coherent by invalidation messages, single
flight, fail-safe stale serving, tags and namespaces.

This package holds the headers, the static libraries, a CMake package
(find_package(strata)) and a pkg-config file.")

include(CPack)
