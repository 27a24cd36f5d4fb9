"""Install: `cmake --install` lays out the usual paths, the installed binary finds its profiles
without the source tree. The .deb is tested in test_package.py (with these checks, on the unpacked package).

The build under test is $HARDRUN_BUILD (scripts/test sets it). The source tree's profiles/ directory is hidden
with an empty tmpfs in a private mount namespace while the installed binary runs, so only the installed
copies can be found.
"""
import gzip
import os
import subprocess

import pytest

from conftest import HARDRUN, ROOT, ROOTFS, Bundle, one_line_error

BUILD = os.environ.get("HARDRUN_BUILD", os.path.dirname(HARDRUN))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hides the source tree with a mount: needs root")

EXPECTED = [
    "usr/bin/hardrun",
    "usr/libexec/hardrun/hardrun-probe",
    "usr/libexec/hardrun/hardrun-systemd",
    "usr/share/hardrun/seccomp/default.json",
    "usr/share/hardrun/apparmor/hardrun-default",
    "usr/share/man/man1/hardrun.1.gz",
    "usr/share/man/man1/hardrun-check.1.gz",
    "usr/share/man/man5/hardrun-seccomp.5.gz",
    "usr/share/bash-completion/completions/hardrun",
    "usr/lib/systemd/system/hardrun@.service",
    "usr/share/doc/hardrun/examples/systemd/hardrun-web.service",
    "usr/share/doc/hardrun/examples/systemd/hardrun-web.socket",
    "usr/share/doc/hardrun/examples/systemd/hardrun-batch.service",
    "usr/share/doc/hardrun/examples/systemd/hardrun-batch.timer",
    "usr/share/doc/hardrun/examples/systemd/hardrun@.service",
    "usr/share/doc/hardrun/systemd.md",
    "usr/share/doc/hardrun/install.md",
]


def without_source_profiles(cmd, env=None):
    """Runs cmd with the source tree's profiles hidden (and nothing from the environment pointing at them)."""
    profiles = os.path.join(ROOT, "profiles")
    script = 'mount -t tmpfs -o size=64k,mode=0755 hidden "$1" && shift && exec "$@"'
    env = dict(env or os.environ)
    env.pop("HARDRUN_DATADIR", None)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", profiles]
                          + cmd, capture_output=True, text=True, timeout=120, env=env)


def check_layout(root):
    missing = [p for p in EXPECTED if not os.path.exists(os.path.join(root, p))]
    assert missing == [], missing
    assert os.access(os.path.join(root, "usr/bin/hardrun"), os.X_OK)
    with gzip.open(os.path.join(root, "usr/share/man/man1/hardrun.1.gz"), "rt") as f:
        assert '.TH "HARDRUN" "1"' in f.read()
    # the units name the installed binary
    for unit in ("usr/lib/systemd/system/hardrun@.service",
                 "usr/share/doc/hardrun/examples/systemd/hardrun-web.service"):
        text = open(os.path.join(root, unit)).read()
        assert "ExecStart=/usr/bin/hardrun run" in text, unit


def check_finds_profiles(root):
    binary = os.path.join(root, "usr/bin/hardrun")
    # the default seccomp profile is a shipped file: the launch only works if it is found
    p = without_source_profiles([binary, "run", "--rootfs", ROOTFS, "--", "sh", "-c", "grep Seccomp: /proc/self/status"])
    assert p.returncode == 0, p.stderr
    assert "Seccomp:\t2" in p.stdout
    # and it is the installed copy that was found: without it, the launch fails closed, naming what it looked for
    default = os.path.join(root, "usr/share/hardrun/seccomp/default.json")
    others = [d for d in ("/etc/hardrun", "/usr/share/hardrun", "/usr/local/share/hardrun") if os.path.exists(d)]
    if others:
        pytest.skip(f"profiles installed on this host ({others}) would be found instead")
    os.rename(default, default + ".away")
    try:
        p = without_source_profiles([binary, "run", "--rootfs", ROOTFS, "--", "true"])
    finally:
        os.rename(default + ".away", default)
    assert p.returncode == 125
    assert "seccomp/default.json" in p.stderr and "not found" in p.stderr
    assert os.path.join(root, "usr/share/hardrun") in p.stderr


def check_probe_found(root):
    # `hardrun check --probes` runs the installed static probe (PREFIX/libexec/hardrun), not the build tree's
    binary = os.path.join(root, "usr/bin/hardrun")
    p = without_source_profiles([binary, "check", "--rootfs", ROOTFS, "--probe", "write-etc"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "write-etc" in p.stdout


def check_systemd_helper_found(root, tmp_path):
    # the systemd cgroup driver's D-Bus calls are made by the installed hardrun-systemd (PREFIX/libexec/hardrun),
    # not the build tree's: here, without systemd's bus, the cause comes from the helper itself
    binary = os.path.join(root, "usr/bin/hardrun")
    bundle = Bundle(str(tmp_path / "systemd-helper"))
    state = tmp_path / "systemd-helper" / "state"
    p = without_source_profiles([binary, "--root", str(state), "--systemd-cgroup", "create", "--bundle", bundle.dir, "c1"])
    line = one_line_error(p, "cgroups: systemd scope hardrun-c1.scope: ")
    assert "cannot connect to systemd's system bus" in line or "StartTransientUnit" in line, line
    assert "not found" not in line, line
    os.rename(os.path.join(root, "usr/libexec/hardrun/hardrun-systemd"), os.path.join(root, "hardrun-systemd.away"))
    try:
        p = without_source_profiles([binary, "--root", str(state), "--systemd-cgroup", "create", "--bundle", bundle.dir, "c1"])
    finally:
        os.rename(os.path.join(root, "hardrun-systemd.away"), os.path.join(root, "usr/libexec/hardrun/hardrun-systemd"))
    if os.path.exists("/usr/libexec/hardrun/hardrun-systemd"):
        return  # the host's installed helper would be found instead
    one_line_error(p, "the systemd driver's helper hardrun-systemd", "not found", "reinstall hardrun")


def test_cmake_install_into_destdir(tmp_path):
    dest = tmp_path / "dest"
    p = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=str(dest)), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    check_layout(str(dest))
    check_probe_found(str(dest))
    check_systemd_helper_found(str(dest), tmp_path)
    check_finds_profiles(str(dest))
