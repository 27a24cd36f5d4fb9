"""Seccomp argument rules on 32-bit arguments (issue 12, class 1).

seccomp hands the filter all 64 bits of each argument register, but the kernel reads an `int` argument (socket's
domain, type and protocol, ioctl's command, prctl's option...) from the low 32 bits only. A rule compiled as a
64-bit comparison therefore misses `socket(0x100000028, SOCK_STREAM, 0)`: the filter sees 0x100000028, which is
not AF_VSOCK (40) and is greater than 40, and the kernel opens an AF_VSOCK socket. hardrun's compiler knows which
arguments the kernel reads as 32 (or 16) bits and compares only those bits, for its own profiles and for the
user's (Docker or OCI JSON).

The sysx helper (tests/helpers/sysx.c) makes the calls from inside the sandbox: vsock_hi (0x100000028),
vsock_hi_ff (0xffffffff00000028) and alg_hi (0x100000026, AF_ALG).
"""
import json
import os

import pytest

from secutil import HARDRUN, ROOT, ROOTFS, hardrun, run, vsock_available

DATA = os.path.join(ROOT, "tests", "data", "seccomp")
HIGH = ["vsock_hi", "vsock_hi_ff", "alg_hi"]




needs_vsock = pytest.mark.skipif(not vsock_available(), reason="no AF_VSOCK on this host: the control cannot open one")


def sysx(tests, *flags, user=None):
    p = run([*flags, "--", "sysx", *tests], user=user)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return dict(line.split(" ", 1) for line in p.stdout.splitlines())


@needs_vsock
def test_the_kernel_truncates_the_domain_so_high_bits_reach_af_vsock():
    """The control: without a filter the high-bit calls really open AF_VSOCK sockets (else the tests below
    would prove nothing)."""
    res = sysx(["vsock", "vsock_hi", "vsock_hi_ff"], "--security-opt", "seccomp=unconfined")
    assert res == {"vsock": "ok", "vsock_hi": "ok", "vsock_hi_ff": "ok"}, res


def test_default_profile_refuses_af_vsock_and_af_alg_with_high_bits_set(as_user):
    res = sysx(["vsock", "alg"] + HIGH + ["inet"], user=as_user)
    # EPERM is the filter's answer (without it: a socket, or EAFNOSUPPORT where the kernel lacks AF_ALG)
    assert res == {"vsock": "EPERM", "alg": "EPERM", "vsock_hi": "EPERM", "vsock_hi_ff": "EPERM", "alg_hi": "EPERM",
                   "inet": "ok"}, res


@pytest.mark.parametrize("profile", ["default.json", "strict.json"])
def test_hardrun_profiles_refuse_high_bit_domains(profile):
    res = sysx(HIGH, "--security-opt", f"seccomp={os.path.join(ROOT, 'profiles', 'seccomp', profile)}")
    assert res == {name: "EPERM" for name in HIGH}, res


def test_dockers_profile_refuses_high_bit_domains():
    # Docker's own default.json: socket is allowed for a0 < 38, == 39 and > 40, so 0x100000028 was "> 40"
    res = sysx(HIGH, "--security-opt", f"seccomp={DATA}/docker-default.json")
    assert res == {name: "EPERM" for name in HIGH}, res


@pytest.mark.parametrize("op", ["SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ"])
def test_a_user_deny_rule_catches_every_value_with_the_same_low_32_bits(tmp_path, op):
    """A profile with only the rule the issue calls vulnerable: allow everything, refuse socket(AF_VSOCK)."""
    arg = {"index": 0, "value": 40, "op": op}
    if op == "SCMP_CMP_MASKED_EQ":
        arg = {"index": 0, "value": 0xffffffff, "valueTwo": 40, "op": op}
    profile = tmp_path / "deny-vsock.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]}))
    os.chmod(tmp_path, 0o755)
    res = sysx(["vsock", "vsock_hi", "vsock_hi_ff", "inet"], "--security-opt", f"seccomp={profile}")
    assert res == {"vsock": "EPERM", "vsock_hi": "EPERM", "vsock_hi_ff": "EPERM", "inet": "ok"}, res


def test_seccomp_show_marks_the_32_bit_comparisons():
    p = hardrun("seccomp", "show", "default")
    assert p.returncode == 0, p.stderr
    socket_rows = [line for line in p.stdout.splitlines() if line.startswith("socket ")]
    assert socket_rows and all("(low 32 bits)" in line for line in socket_rows), socket_rows


def probe(*flags):
    p = hardrun("check", "--probes", "--probe", "vsock-socket", "--format", "json", "-q", "--rootfs", ROOTFS, *flags)
    return json.loads(p.stdout)["probes"][0]


def test_the_vsock_probe_tries_the_high_bit_domains_and_is_blocked_by_default():
    r = probe()
    assert r["verdict"] == "blocked", r
    assert "0x100000028" in r["op"], r
    assert r["expected"].endswith("blocked by seccomp"), r


@needs_vsock
def test_the_vsock_probe_can_fail_on_a_high_bit_domain():
    """Under a weakened setting the probe reports "not blocked", and names the high-bit call that got through
    first: the probe tries those before the plain socket(AF_VSOCK)."""
    r = probe("--security-opt", "seccomp=unconfined")
    assert r["verdict"] == "not-blocked", r
    assert "0x100000028" in r["detail"], r
    assert "NOT blocked" in r["expected"], r


@needs_vsock
def test_the_vsock_probe_under_a_profile_with_only_the_deny_rule(tmp_path):
    profile = tmp_path / "deny-vsock.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]}))
    os.chmod(tmp_path, 0o755)
    r = probe("--security-opt", f"seccomp={profile}")
    assert r["verdict"] == "blocked", r
    assert r["expected"].endswith("blocked by seccomp"), r
