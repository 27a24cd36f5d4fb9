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

option(HARDRUN_STATIC "Link hardrun statically (for initramfs or minimal hosts)" OFF)
option(HARDRUN_MAN "Build the man pages (needs scdoc)" ON)
set(HARDRUN_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the hardrun@.service template unit is installed (relative to the prefix, or absolute)")
set(HARDRUN_PACKAGE_CONTACT "hardrun maintainers <hardrun@localhost>" CACHE STRING "Maintainer field of the .deb")

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
install(FILES README.md ${hardrun_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

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
set(CPACK_PACKAGE_NAME hardrun)
set(CPACK_PACKAGE_VENDOR "hardrun")
set(CPACK_PACKAGE_CONTACT "${HARDRUN_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "setuid-free hardened launcher for one workload")
set(CPACK_PACKAGE_DESCRIPTION "hardrun runs one command in new namespaces with a read-only root, a fixed\
 non-root uid, no capabilities, no_new_privs, a seccomp filter, AppArmor, Landlock and cgroup v2 limits,\
 from docker-run style flags or an OCI bundle. It is also a test harness that shows which layer a workload\
 trips over.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "")
# Depends: computed by dpkg-shlibdeps from the binary (libseccomp2, libcap-ng0, libapparmor1, libc6, ...)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "apparmor, busybox-static")
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/out/" "/\\\\.cache/" "\\\\.swp$")
include(CPack)
