# Start-up speed of the hardrun binary (docs/performance.md). Included from the top-level CMakeLists.txt
# after the hardrun target exists (and after cmake/Install.cmake, whose HARDRUN_STATIC takes precedence).
#
# HARDRUN_STATIC_PIE (default ON): link the hardrun binary as a static position-independent executable.
# With eight shared libraries (libstdc++, libseccomp, libcap-ng, libapparmor, libyaml-cpp, libm, libgcc_s,
# libc) the dynamic loader and the relocation of their symbols took about 1 ms of a 6 ms launch and 1.6 MiB
# of the supervisor's RSS; the static PIE starts in 0.7 ms and keeps ASLR. (A plain -static, non-PIE link
# is slower than both here: its first C++ exception sorts every unwind table, about 1.2 ms.)
# Only the hardrun executable changes, through a link wrapper that swaps each shared library on its link
# line for the archive next to it; when one has none, it links dynamically and says so.
option(HARDRUN_STATIC_PIE "Link the hardrun binary as a static PIE (faster start-up; docs/performance.md)" ON)
if(HARDRUN_STATIC_PIE AND NOT HARDRUN_STATIC AND NOT HARDRUN_SANITIZE)
  set_property(TARGET hardrun PROPERTY RULE_LAUNCH_LINK "${PROJECT_SOURCE_DIR}/cmake/static-pie-link.sh")
  set_property(TARGET hardrun APPEND PROPERTY LINK_DEPENDS "${PROJECT_SOURCE_DIR}/cmake/static-pie-link.sh")
endif()
