# Install layout, man pages, a static build option, and packages (CPack: .deb and .tar.gz).
# Included from the top-level CMakeLists.txt after the hardrun target exists.
#
#   PREFIX/bin/hardrun
#   PREFIX/share/hardrun/{seccomp,apparmor}/...          profiles (data_file() also finds them next to the binary)
#   PREFIX/share/man/man1/hardrun.1.gz, hardrun-check.1.gz; man5/hardrun-seccomp.5.gz
#   PREFIX/share/bash-completion/completions/hardrun
#   PREFIX/lib/systemd/system/hardrun@.service           the template unit (an OCI bundle per instance)
#   PREFIX/share/doc/hardrun/examples/systemd/*          every example unit, ExecStart pointing at PREFIX/bin
#   PREFIX/share/doc/hardrun/*.md                        the documentation
#   PREFIX/share/doc/hardrun/copyright                   machine-readable copyright (packaging/deb/copyright)
# and, when the install prefix is /usr (a package, or a Debian-style install by hand):
#   /etc/apparmor.d/hardrun-default                      the AppArmor profile where apparmor.service loads it
#   /usr/share/doc/hardrun/changelog.Debian.gz           packaging/deb/changelog
#   /usr/share/lintian/overrides/hardrun                 packaging/deb/lintian-overrides

option(HARDRUN_STATIC "Link hardrun statically (for initramfs or minimal hosts)" OFF)
option(HARDRUN_MAN "Build the man pages (needs scdoc)" ON)
set(HARDRUN_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the hardrun@.service template unit is installed (relative to the prefix, or absolute)")
set(HARDRUN_PACKAGE_CONTACT "Seed 6102f59f maintainers <maintainers@users.noreply.b-seed-6102f59f.example>"
    CACHE STRING "Maintainer field of the .deb (the author of the git history)")
if(HARDRUN_PACKAGE_CONTACT STREQUAL "hardrun maintainers <hardrun@localhost>")  # the old placeholder in a cache
  set(HARDRUN_PACKAGE_CONTACT "Seed 6102f59f maintainers <maintainers@users.noreply.b-seed-6102f59f.example>"
      CACHE STRING "Maintainer field of the .deb (the author of the git history)" FORCE)
endif()
set(HARDRUN_DEB_RELEASE 1 CACHE STRING "Debian revision of the .deb: Version is PROJECT_VERSION-HARDRUN_DEB_RELEASE")
set(HARDRUN_APPARMOR_DIR "" CACHE STRING
    "Where the AppArmor profile is installed for apparmor.service to load (empty: /etc/apparmor.d when the install prefix is /usr, else nowhere)")

# --- static build ----------------------------------------------------------------------------------
# The pkg-config targets name the shared libraries; a static link needs their archives instead.
if(HARDRUN_STATIC)
  foreach(pc SECCOMP CAPNG APPARMOR)
    set(archives)
    foreach(lib ${${pc}_LIBRARIES})
      find_library(HARDRUN_STATIC_${lib} NAMES lib${lib}.a HINTS ${${pc}_LIBRARY_DIRS} NO_CACHE)
      if(NOT HARDRUN_STATIC_${lib})
        message(FATAL_ERROR "HARDRUN_STATIC: lib${lib}.a not found (install the -dev package that ships it)")
      endif()
      list(APPEND archives ${HARDRUN_STATIC_${lib}})
    endforeach()
    set_property(TARGET PkgConfig::${pc} PROPERTY INTERFACE_LINK_LIBRARIES ${archives})
  endforeach()
  # yaml-cpp's CMake package only describes its shared library
  if(TARGET yaml-cpp)
    find_library(HARDRUN_STATIC_yaml_cpp NAMES libyaml-cpp.a NO_CACHE)
    if(NOT HARDRUN_STATIC_yaml_cpp)
      message(FATAL_ERROR "HARDRUN_STATIC: libyaml-cpp.a not found (package libyaml-cpp-dev)")
    endif()
    set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION "${HARDRUN_STATIC_yaml_cpp}"
                          IMPORTED_LOCATION_NONE "${HARDRUN_STATIC_yaml_cpp}")
    get_target_property(yaml_configs yaml-cpp IMPORTED_CONFIGURATIONS)
    foreach(cfg ${yaml_configs})
      set_property(TARGET yaml-cpp PROPERTY IMPORTED_LOCATION_${cfg} "${HARDRUN_STATIC_yaml_cpp}")
    endforeach()
  endif()
  target_link_options(hardrun PRIVATE -static)
endif()

# --- man pages: scdoc sources in man/*.scd -> roff, lint-clean (tidy-roff.awk), gzip for install --------
set(HARDRUN_MAN_PAGES)
if(HARDRUN_MAN)
  find_program(SCDOC_EXECUTABLE scdoc)
  find_program(GZIP_EXECUTABLE gzip)
  if(NOT SCDOC_EXECUTABLE OR NOT GZIP_EXECUTABLE)
    message(WARNING "scdoc or gzip not found: the man pages are not built (apt-get install scdoc), "
                    "or configure with -DHARDRUN_MAN=OFF")
  else()
    file(GLOB man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.scd)
    foreach(src ${man_sources})
      get_filename_component(page ${src} NAME_WLE)  # hardrun.1
      string(REGEX MATCH "[0-9]$" section ${page})
      set(out ${CMAKE_BINARY_DIR}/man/${page})
      add_custom_command(
        OUTPUT ${out} ${out}.gz
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND sh -c "'${SCDOC_EXECUTABLE}' < '${src}' | awk -f '${PROJECT_SOURCE_DIR}/man/tidy-roff.awk' > '${out}'"
        COMMAND sh -c "'${GZIP_EXECUTABLE}' -9 -n -c '${out}' > '${out}.gz'"
        DEPENDS ${src} ${PROJECT_SOURCE_DIR}/man/tidy-roff.awk
        COMMENT "man page ${page}"
        VERBATIM)
      list(APPEND HARDRUN_MAN_PAGES ${out})
      install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    endforeach()
    add_custom_target(man ALL DEPENDS ${HARDRUN_MAN_PAGES})
  endif()
endif()

# --- install -----------------------------------------------------------------------------------------
install(TARGETS hardrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY profiles/ DESTINATION ${CMAKE_INSTALL_DATADIR}/hardrun)
install(FILES contrib/bash-completion/hardrun DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
file(GLOB hardrun_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES README.md ${hardrun_docs} packaging/deb/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian changelog, compressed as dpkg expects (gzip -9n: no name or time stamp, reproducible). Its first
# entry must be this version: the .deb's Version and lintian check it.
set(deb_version "${PROJECT_VERSION}-${HARDRUN_DEB_RELEASE}")
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/deb/changelog changelog_top LIMIT_COUNT 1)
if(NOT changelog_top MATCHES "^hardrun \\(${deb_version}\\) ")
  message(WARNING "packaging/deb/changelog starts with '${changelog_top}', not version ${deb_version}: add an entry "
                  "(the .deb's changelog.Debian.gz would not match its Version)")
endif()
find_program(GZIP_EXECUTABLE gzip)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND sh -c "'${GZIP_EXECUTABLE}' -9 -n -c '${PROJECT_SOURCE_DIR}/packaging/deb/changelog' > '${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz'"
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/deb/changelog
  COMMENT "changelog.Debian.gz"
  VERBATIM)
add_custom_target(deb-changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz)

# The files only a Debian-style install has, decided at install time: cpack and `cmake --install --prefix`
# may change the prefix after configuration. With prefix /usr (the .deb), the AppArmor profile goes to
# /etc/apparmor.d, where apparmor.service loads it at boot and the package's postinst loads it on install;
# an install into /usr/local or a home directory leaves /etc alone (`hardrun apparmor load` still works).
install(CODE "
  set(aa_dir \"${HARDRUN_APPARMOR_DIR}\")
  string(REGEX REPLACE \"/+$\" \"\" prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(prefix STREQUAL \"/usr\")
    if(aa_dir STREQUAL \"\")
      set(aa_dir /etc/apparmor.d)
    endif()
    set(docdir \"${CMAKE_INSTALL_DOCDIR}\")
    if(NOT IS_ABSOLUTE \"\${docdir}\")
      set(docdir \"\${prefix}/\${docdir}\")
    endif()
    file(INSTALL DESTINATION \"\${docdir}\" TYPE FILE
         FILES \"${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz\")
    file(INSTALL DESTINATION \"\${prefix}/share/lintian/overrides\" TYPE FILE
         RENAME hardrun FILES \"${PROJECT_SOURCE_DIR}/packaging/deb/lintian-overrides\")
  endif()
  if(NOT aa_dir STREQUAL \"\")
    file(INSTALL DESTINATION \"\${aa_dir}\" TYPE FILE
         FILES \"${PROJECT_SOURCE_DIR}/profiles/apparmor/hardrun-default\")
  endif()
")

# The example units name /usr/bin/hardrun; they are rewritten at install time for the real prefix (which
# cpack or `cmake --install --prefix` may change after configuration).
install(CODE "
  set(units_src \"${PROJECT_SOURCE_DIR}/contrib/systemd\")
  set(units_tmp \"${CMAKE_BINARY_DIR}/systemd-units\")
  set(unitdir \"${HARDRUN_SYSTEMD_UNITDIR}\")
  set(bindir \"${CMAKE_INSTALL_BINDIR}\")
  set(docdir \"${CMAKE_INSTALL_DOCDIR}\")
  if(NOT IS_ABSOLUTE \"\${bindir}\")
    set(bindir \"\${CMAKE_INSTALL_PREFIX}/\${bindir}\")
  endif()
  if(NOT IS_ABSOLUTE \"\${unitdir}\")
    set(unitdir \"\${CMAKE_INSTALL_PREFIX}/\${unitdir}\")
  endif()
  if(NOT IS_ABSOLUTE \"\${docdir}\")
    set(docdir \"\${CMAKE_INSTALL_PREFIX}/\${docdir}\")
  endif()
  file(REMOVE_RECURSE \"\${units_tmp}\")
  file(GLOB units \"\${units_src}/*.service\" \"\${units_src}/*.socket\" \"\${units_src}/*.timer\")
  set(staged)
  foreach(unit \${units})
    get_filename_component(name \"\${unit}\" NAME)
    file(READ \"\${unit}\" text)
    string(REPLACE \"/usr/bin/hardrun\" \"\${bindir}/hardrun\" text \"\${text}\")
    file(WRITE \"\${units_tmp}/\${name}\" \"\${text}\")
    list(APPEND staged \"\${units_tmp}/\${name}\")
  endforeach()
  file(INSTALL DESTINATION \"\${docdir}/examples/systemd\" TYPE FILE FILES \${staged})
  file(INSTALL DESTINATION \"\${unitdir}\" TYPE FILE FILES \"\${units_tmp}/hardrun@.service\")
")

# --- packages ----------------------------------------------------------------------------------------
# The .deb is built by CPack from this build tree (scripts/package, docs/install.md says why not debhelper):
# it carries the files above plus packaging/deb's conffiles and maintainer scripts (postinst loads the
# AppArmor profile where AppArmor is enabled, postrm forgets it on purge). It must install under /usr:
# cmake/CPackOptions.cmake refuses any other prefix for the DEB generator.
set(CPACK_PACKAGE_NAME hardrun)
set(CPACK_PACKAGE_VENDOR "hardrun")
set(CPACK_PACKAGE_CONTACT "${HARDRUN_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "setuid-free hardened launcher for one workload")
# Debian's long description: lines of at most 80 columns (CPack indents them, an empty line becomes " .")
set(CPACK_PACKAGE_DESCRIPTION "hardrun runs one command in new namespaces with a read-only root, a fixed
non-root uid, no capabilities, no_new_privs, a seccomp filter, AppArmor,
Landlock and cgroup v2 limits, from docker-run style flags or an OCI bundle.
Every layer is on by default and fails closed; no setuid bit is needed.

It is also a test harness (hardrun check) that shows which layer a workload
trips over and runs escape probes inside the sandbox, and an OCI runtime
with runc's command line.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_PROJECT_CONFIG_FILE "${PROJECT_SOURCE_DIR}/cmake/CPackOptions.cmake")
set(CPACK_DEBIAN_PACKAGE_RELEASE "${HARDRUN_DEB_RELEASE}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # hardrun_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: computed by dpkg-shlibdeps from the binary (libseccomp2, libcap-ng0, libapparmor1, libc6, ...);
# the default build links hardrun as a static PIE and the probe statically; hardrun-systemd (the systemd driver's
# helper) links libsystemd, which Debian ships without an archive, so Depends is its libraries
# (tests/integration/test_package.py)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "apparmor, busybox-static, passt")  # passt: pasta for -p
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/packaging/deb/conffiles;${PROJECT_SOURCE_DIR}/packaging/deb/postinst;${PROJECT_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # conffiles 0644, maintainer scripts 0755
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/out/" "/\\\\.cache/" "\\\\.swp$")
include(CPack)
