# SPDX-License-Identifier: Apache-2.0
# packaging.cmake - what a host needs besides the binaries (configuration,
# systemd unit, user, runtime directory, sysctls, man pages, completion)
# and the CPack .deb that carries all of it. Included at the end of the
# top-level CMakeLists.txt; the binaries' own install(TARGETS) rules live
# next to their targets.
#
#   cmake --build build && cd build && cpack -G DEB
#     -> ringfleet_<version>_<arch>.deb

set(RF_PKG_SRC ${CMAKE_CURRENT_LIST_DIR})
set(RF_PKG_OUT ${PROJECT_BINARY_DIR}/packaging)

# Paths that do not follow CMAKE_INSTALL_PREFIX: systemd reads units,
# sysusers.d, tmpfiles.d and sysctl.d only from its own directories, and
# ringfleetd and ringfleetctl have /etc/ringfleet/ringfleet.ini and
# /run/ringfleet/control.sock compiled in as defaults.
set(RF_USER ringfleet)
set(RF_UNIT ringfleet.service)
set(RF_CONF_DIR /etc/ringfleet)
set(RF_RUN_DIR /run/ringfleet)
set(RINGFLEET_SYSTEMD_UNITDIR /lib/systemd/system CACHE PATH
  "Directory of systemd system units (Debian 12: /lib/systemd/system)")
set(RINGFLEET_SYSUSERSDIR /usr/lib/sysusers.d CACHE PATH "sysusers.d directory")
set(RINGFLEET_TMPFILESDIR /usr/lib/tmpfiles.d CACHE PATH "tmpfiles.d directory")
set(RINGFLEET_SYSCTLDIR /usr/lib/sysctl.d CACHE PATH "sysctl.d directory")
set(RF_SYSUSERS_FILE ${RINGFLEET_SYSUSERSDIR}/ringfleet.conf)
set(RF_TMPFILES_FILE ${RINGFLEET_TMPFILESDIR}/ringfleet.conf)
# "30-": a low number, so any later file setting the same keys wins
# (see ringfleet.sysctl).
set(RF_SYSCTL_FILE ${RINGFLEET_SYSCTLDIR}/30-ringfleet.conf)

# ---- binaries ----------------------------------------------------------
# ringfleetd, ringfleet-worker and ringfleetctl install themselves; the
# load generator has no rule of its own. ringfleetd finds the worker next
# to itself, so both must land in the same directory.
install(TARGETS ringfleet-load RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- configuration -----------------------------------------------------
# The documented example is the installed default; dpkg keeps an edited
# copy across upgrades (conffile, below). An untouched copy goes to the
# docs, to compare against or start over from.
install(FILES ${PROJECT_SOURCE_DIR}/config/examples/ringfleet.ini DESTINATION ${RF_CONF_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/examples/ringfleet.ini
  ${PROJECT_SOURCE_DIR}/config/examples/demo.ini
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's machine-readable copyright file (copyright-format 1.0); the
# full license text is the system's /usr/share/common-licenses/Apache-2.0.
install(FILES ${RF_PKG_SRC}/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- systemd -----------------------------------------------------------
# The unit names its binaries as /usr/bin/...; installed under another
# prefix (`cmake --install build --prefix /usr/local`) they are rewritten
# to where the binaries really are. Done at install time, because that is
# when the prefix is known: cpack installs with its own (/usr).
install(CODE "
  file(READ \"${RF_PKG_SRC}/ringfleet.service\" rf_unit)
  string(REPLACE \"/usr/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" rf_unit \"\${rf_unit}\")
  file(WRITE \"${RF_PKG_OUT}/install/ringfleet.service\" \"\${rf_unit}\")
")
install(FILES ${RF_PKG_OUT}/install/ringfleet.service DESTINATION ${RINGFLEET_SYSTEMD_UNITDIR})
install(FILES ${RF_PKG_SRC}/ringfleet.sysusers DESTINATION ${RINGFLEET_SYSUSERSDIR}
  RENAME ringfleet.conf)
install(FILES ${RF_PKG_SRC}/ringfleet.tmpfiles DESTINATION ${RINGFLEET_TMPFILESDIR}
  RENAME ringfleet.conf)
install(FILES ${RF_PKG_SRC}/ringfleet.sysctl DESTINATION ${RINGFLEET_SYSCTLDIR}
  RENAME 30-ringfleet.conf)

# ---- man pages and completion ------------------------------------------
# Compressed as Debian policy asks (gzip -9n: no name or timestamp, so the
# same page gives the same bytes).
find_program(RF_GZIP gzip REQUIRED)
set(RF_MAN_GZ "")
foreach(page ringfleetctl.1 ringfleetd.8 ringfleet-worker.8)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  add_custom_command(OUTPUT ${RF_PKG_OUT}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${RF_PKG_OUT}/man
    COMMAND sh -c "${RF_GZIP} -9n < \"$0\" > \"$1\"" ${RF_PKG_SRC}/man/${page}
      ${RF_PKG_OUT}/man/${page}.gz
    DEPENDS ${RF_PKG_SRC}/man/${page}
    COMMENT "Compressing ${page}" VERBATIM)
  list(APPEND RF_MAN_GZ ${RF_PKG_OUT}/man/${page}.gz)
  install(FILES ${RF_PKG_OUT}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(rf_man_pages ALL DEPENDS ${RF_MAN_GZ})

install(FILES ${RF_PKG_SRC}/bash-completion/ringfleetctl
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# ---- Debian package ----------------------------------------------------
foreach(script postinst prerm postrm)
  configure_file(${RF_PKG_SRC}/debian/${script}.in ${RF_PKG_OUT}/debian/${script}
    @ONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)
endforeach()
# Every file under /etc is configuration the admin may edit.
file(WRITE ${RF_PKG_OUT}/debian/conffiles "${RF_CONF_DIR}/ringfleet.ini\n")

set(RINGFLEET_DEB_MAINTAINER "ringfleet maintainers <maintainers@users.noreply.r-seed-f2dabbcd.example>"
  CACHE STRING "Maintainer field of the .deb")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ringfleet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${RINGFLEET_DEB_MAINTAINER}")
# A .deb installs under /usr whatever prefix this tree was configured
# with; relative destinations (bin, share/man, ...) follow it.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debian strips binaries into separate -dbgsym packages; a plain strip
# keeps the package small without that machinery.
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${RINGFLEET_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "many UDP game servers per CPU core, on io_uring")
# CPack puts the summary on the Description line and this below it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "ringfleetd binds the UDP port of every game server listed in
/etc/ringfleet/ringfleet.ini, forks one CPU-pinned ringfleet-worker per
server and keeps them alive. Each worker runs a fixed-rate tick loop on
its own io_uring and relays every packet it received to every connected
client. ringfleetctl queries and controls the supervisor; ringfleet-load
is a load generator. Runs as ringfleet.service, a Type=notify unit
without capabilities.")
# Library dependencies come from dpkg-shlibdeps (dpkg-dev) on the
# binaries; passwd provides the useradd/groupadd postinst falls back to
# where systemd-sysusers is missing.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${RF_PKG_OUT}/debian/conffiles ${RF_PKG_OUT}/debian/postinst
  ${RF_PKG_OUT}/debian/prerm ${RF_PKG_OUT}/debian/postrm)
# 0755 scripts and 0644 conffiles whatever the umask of the build.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Only the DEB generator is supported; keep `make package_source` from
# sweeping build trees and git history into a tarball.
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/;/build[^/]*/;__pycache__")
include(CPack)
