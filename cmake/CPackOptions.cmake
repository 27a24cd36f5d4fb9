# CPACK_PROJECT_CONFIG_FILE: read by cpack for each generator, after CPackConfig.cmake.
# A .deb installs under /usr: its conffile (/etc/apparmor.d/hardrun-default), changelog.Debian.gz and lintian
# overrides are only installed with that prefix, and Debian puts nothing under /usr/local. Refuse anything else
# instead of building a package that lintian and dpkg would reject.
if(CPACK_GENERATOR STREQUAL "DEB")
  string(REGEX REPLACE "/+$" "" _hardrun_prefix "${CPACK_PACKAGING_INSTALL_PREFIX}")
  if(_hardrun_prefix STREQUAL "")  # CPack's default for DEB
    set(_hardrun_prefix /usr)
  endif()
  if(NOT _hardrun_prefix STREQUAL "/usr")
    message(FATAL_ERROR "hardrun's .deb installs under /usr, not '${CPACK_PACKAGING_INSTALL_PREFIX}': configure with "
                        "-DCMAKE_INSTALL_PREFIX=/usr, or run cpack -G DEB -D CPACK_PACKAGING_INSTALL_PREFIX=/usr")
  endif()
endif()
