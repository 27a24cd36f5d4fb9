"""AppArmor on the build host: this kernel has no AppArmor, so an asked-for profile fails closed, the default
is skipped with a note, and `hardrun apparmor` says why. The profile itself is compiled here and proven on
a kernel with AppArmor by the VM tier (tests/vm/cases/20-apparmor.sh)."""
import os
import shutil
import subprocess

import pytest

from conftest import HARDRUN, ROOT, UNPRIV_UID, hardrun, run

PROFILE = os.path.join(ROOT, "profiles", "apparmor", "hardrun-default")


def apparmor_enabled():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


needs_no_apparmor = pytest.mark.skipif(apparmor_enabled(), reason="AppArmor is enabled on this host")


@needs_no_apparmor
def test_named_profile_without_apparmor_fails_closed(as_user):
    p = run(["--security-opt", "apparmor=hardrun-default", "--", "echo", "RAN"], user=as_user)
    assert p.returncode == 125
    assert "RAN" not in p.stdout
    assert "AppArmor is not enabled on this host" in p.stderr
    assert "apparmor=hardrun-default" in p.stderr  # what to drop
    assert len(p.stderr.strip().splitlines()) == 1


@needs_no_apparmor
def test_default_is_skipped_with_a_note(as_user):
    p = run(["--verbose", "--", "cat", "/proc/self/attr/current"], user=as_user)
    assert p.returncode in (0, 1), p.stderr  # no LSM: reading the attr may fail, the launch must not
    assert "AppArmor is not enabled on this host" in p.stderr
    assert "no profile applied" in p.stderr


def test_unconfined_is_explicit_and_warned():
    p = run(["--security-opt", "apparmor=unconfined", "--", "echo", "RAN"], check=0)
    assert "RAN" in p.stdout
    assert "apparmor: unconfined" in p.stderr


@needs_no_apparmor
def test_load_without_apparmor_fails():
    p = hardrun("apparmor", "load")
    assert p.returncode == 125
    assert "AppArmor is not enabled on this host" in p.stderr
    s = hardrun("apparmor", "status")
    assert s.returncode == 1
    assert "apparmor: not enabled" in s.stdout


def test_load_needs_root():
    p = subprocess.run(["setpriv", f"--reuid={UNPRIV_UID}", f"--regid={UNPRIV_UID}", "--clear-groups", HARDRUN,
                        "apparmor", "load"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 125
    assert "needs root" in p.stderr


@pytest.mark.skipif(not shutil.which("apparmor_parser") and not os.path.exists("/usr/sbin/apparmor_parser"),
                    reason="apparmor_parser is not installed")
def test_shipped_profile_compiles():
    parser = shutil.which("apparmor_parser") or "/usr/sbin/apparmor_parser"
    # --skip-kernel-load: compile against the policy features in /etc/apparmor/parser.conf only
    p = subprocess.run([parser, "--skip-kernel-load", "--skip-cache", "--quiet", PROFILE],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    names = subprocess.run([parser, "--names", PROFILE], capture_output=True, text=True, timeout=60)
    assert names.stdout.split() == ["hardrun-default"]
