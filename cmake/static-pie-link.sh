#!/bin/sh
# Link wrapper for the hardrun binary (HARDRUN_STATIC_PIE, cmake/Performance.cmake). CMake runs
#   static-pie-link.sh <compiler> <link arguments...>
# Every shared library on the link line (/path/libX.so or /path/libX.so.N) is swapped for the archive next
# to it (/path/libX.a) and the binary is linked as a static PIE: no dynamic loader, no symbol relocation at
# start-up, ASLR kept. If a library has no archive, or the static link fails, the binary is linked
# dynamically instead (with libstdc++ and libgcc, and every archive found, linked in) and the reason shown.
n=$#
missing=""
for a in "$@"; do
  case $a in
    /*.so | /*.so.[0-9]*)
      if [ -f "${a%%.so*}.a" ]; then a="${a%%.so*}.a"; else missing="$missing ${a##*/}"; fi
      ;;
  esac
  set -- "$@" "$a"
done
shift "$n"  # "$@" is now the rewritten link line

log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
if [ -z "$missing" ]; then
  if "$@" -static-pie 2>"$log"; then
    # libcap-ng.a references getpwuid/initgroups (in capng_change_id, which hardrun never calls): glibc's
    # warnings about NSS in static programs do not apply to hardrun; keep every other message.
    grep -v -e "in statically linked applications requires at runtime" -e "in function \`capng_change_id'" "$log" >&2
    exit 0
  fi
  cat "$log" >&2
  echo "note: hardrun: the static PIE link failed (above); linking dynamically instead" >&2
else
  echo "note: hardrun: no static archive for$missing; linking dynamically (slower start-up, docs/performance.md)" >&2
fi
exec "$@" -static-libstdc++ -static-libgcc
