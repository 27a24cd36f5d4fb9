# The package: the setup test installed hardrun from the project's .deb with dpkg (lib.sh install_hardrun); these
# check it went the Debian way. They skip when scripts/vm-engines --binary copied hardrun in instead.
# (sourced by run-engines after lib.sh)

deb_installed() {
  [ "$(cat "$INSTALL_RECORD/method" 2>/dev/null)" = deb ] \
    || skip "hardrun was copied into the guest (scripts/vm-engines --binary), not installed from the .deb"
}

# owned_by_package PATH: PATH exists and dpkg says the package hardrun owns it
owned_by_package() {
  [ -e "$1" ] || fail "$1 is missing"
  run dpkg -S "$1"
  expect_rc 0 "dpkg -S $1"
  expect_line "$OUT" "hardrun: $1"
}

test_installed() {
  deb_installed
  must dpkg -s hardrun
  expect_line "$OUT" "Status: install ok installed"
  must dpkg-query -W -f='${Version} ${Architecture}\n' hardrun
  # every file as shipped (size and md5sum of the package's md5sums)
  must dpkg --verify hardrun
  expect_eq "$OUT" "" "dpkg --verify hardrun"
}

test_binary_from_package() {
  deb_installed
  owned_by_package /usr/bin/hardrun
  [ "$(command -v hardrun)" = /usr/bin/hardrun ] || fail "hardrun on PATH is $(command -v hardrun), not /usr/bin/hardrun"
  owned_by_package /usr/libexec/hardrun/hardrun-probe
  owned_by_package /usr/libexec/hardrun/hardrun-systemd
  owned_by_package /usr/share/hardrun/apparmor/hardrun-default
  must hardrun --version
}

test_apparmor_conffile_loaded_on_install() {
  deb_installed
  local profile=/etc/apparmor.d/hardrun-default
  owned_by_package "$profile"
  # a conffile: dpkg keeps the admin's changes on upgrade and the file on remove (only purge deletes it)
  must dpkg-query -W -f='${Conffiles}\n' hardrun
  echo "$OUT" | awk '{ print $1 }' | grep -qxF "$profile" || fail "$profile is not a conffile of hardrun: $OUT"
  # loaded into the kernel by the package's postinst: the profiles the kernel listed right after dpkg -i
  # (nothing ran `hardrun apparmor load`, and apparmor.service had run at boot, before hardrun was installed)
  [ -s "$INSTALL_RECORD/apparmor-profiles" ] || fail "no record of the kernel's profiles after dpkg -i"
  note "after dpkg -i: $(grep hardrun "$INSTALL_RECORD/apparmor-profiles" | paste -sd,)"
  grep -qxF "hardrun-default (enforce)" "$INSTALL_RECORD/apparmor-profiles" \
    || fail "the kernel did not list hardrun-default (enforce) right after dpkg -i"
  grep -qxF "hardrun-default (enforce)" /sys/kernel/security/apparmor/profiles \
    || fail "the kernel no longer lists hardrun-default (enforce)"
  # and hardrun finds it loaded (the check it fails closed on)
  must hardrun apparmor status
  expect_out "hardrun-default: loaded"
}

test_man_pages_and_completion() {
  deb_installed
  local page
  for page in man1/hardrun.1 man1/hardrun-check.1 man5/hardrun-seccomp.5; do
    owned_by_package "/usr/share/man/$page.gz"
    gzip -t "/usr/share/man/$page.gz" || fail "/usr/share/man/$page.gz is not gzip"
    zcat "/usr/share/man/$page.gz" | grep -q '^\.TH' || fail "/usr/share/man/$page.gz has no .TH"
  done
  owned_by_package /usr/share/bash-completion/completions/hardrun
  bash -n /usr/share/bash-completion/completions/hardrun || fail "the bash completion does not parse"
  owned_by_package /usr/share/doc/hardrun/copyright
  owned_by_package /usr/share/doc/hardrun/changelog.Debian.gz
}
