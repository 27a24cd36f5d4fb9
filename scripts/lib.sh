# Shared by the scripts: paths and the idempotent apt-get installer. Source it, do not run it.
HARDRUN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$HARDRUN_ROOT/build}
ROOTFS_DIR=${ROOTFS_DIR:-$BUILD_DIR/rootfs}

# need_packages PKG...: installs the Debian packages that are missing; quiet when all are there.
need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then echo "need root to install packages" >&2; return 1; fi
  # an old package list may not know a package: update once, then install
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

BUILD_PACKAGES=(build-essential cmake pkg-config file scdoc libseccomp-dev libcap-ng-dev libapparmor-dev libsystemd-dev
  nlohmann-json3-dev libcli11-dev doctest-dev libyaml-cpp-dev busybox-static)
# what a launch runs besides hardrun: pasta (Debian's passt) forwards -p ports into the sandbox
RUNTIME_PACKAGES=(passt)
TEST_PACKAGES=(python3 python3-pytest util-linux iproute2 mandoc systemd dpkg-dev python3-jsonschema podman lintian
  mmdebstrap postgresql-client redis-tools)  # the last line: the images tier (scripts/mkimage, the host's clients)

# vm_vmlinux /boot/vmlinuz-VERSION DIR: prints DIR/vmlinux-VERSION, the uncompressed kernel cut out of Debian's
# bzImage (find the XZ magic, then xz -dc), extracted once and cached. Booting it through PVH saves the XZ
# decompression, which costs seconds under TCG (scripts/vm-test, scripts/vm-engines).
vm_vmlinux() {
  local kernel=$1 dir=$2 out offset
  out=$dir/vmlinux-${kernel##*/vmlinuz-}
  if [ ! -s "$out" ]; then
    offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kernel" | head -n 1 | cut -d: -f1)
    [ -n "$offset" ] || { echo "$kernel has no XZ payload" >&2; return 1; }
    tail -c +$((offset + 1)) "$kernel" | xz -dc --single-stream >"$out.tmp" 2>/dev/null
    [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] || { rm -f "$out.tmp"; return 1; }
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}
