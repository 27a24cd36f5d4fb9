"""CVE-2022-29162 (runc), CVE-2022-27650 (crun): a non-empty inheritable capability set let a workload gain
capabilities from file capabilities across execve, even with an empty bounding set (P'(permitted) includes
P(inheritable) & F(inheritable), which the bounding set does not limit).

hardrun's defence: all five sets are empty unless capabilities are added back by name.
"""
import os
import shutil
import subprocess

import pytest

from secutil import IS_ROOT, sh, status_fields

SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


# no_new_privs off is tested with seccomp unconfined (loading a filter without no_new_privs needs CAP_SYS_ADMIN):
# only the capability sets stand between file capabilities and the workload then
NNP_OFF = ["--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined"]


@pytest.mark.parametrize("extra", [[], ["--user", "0"], ["--init"], NNP_OFF])
def test_all_capability_sets_empty_by_default(as_user, extra):
    p = sh("cat /proc/self/status", *extra, user=as_user, check=0)
    st = status_fields(p.stdout)
    for s in SETS:
        assert int(st[s], 16) == 0, (s, st[s])


def test_inheritable_and_ambient_only_hold_what_was_added(as_user):
    p = sh("cat /proc/self/status", "--cap-add", "NET_BIND_SERVICE", user=as_user, check=0)
    st = status_fields(p.stdout)
    bit = 1 << 10  # CAP_NET_BIND_SERVICE
    assert int(st["CapInh"], 16) in (0, bit)
    assert int(st["CapAmb"], 16) in (0, bit)
    assert int(st["CapBnd"], 16) == bit


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setcap"), reason="needs root and setcap")
@pytest.mark.parametrize("filecaps", ["cap_dac_override,cap_sys_admin+ei", "cap_dac_override,cap_sys_admin+eip"])
def test_file_capabilities_grant_nothing(tmp_rootfs, filecaps):
    # a binary in the rootfs carries file capabilities; without no_new_privs (so only the capability sets
    # stand in the way) it must still come up with nothing
    os.makedirs(os.path.join(tmp_rootfs, "usr", "local", "caps"))
    binary = os.path.join(tmp_rootfs, "usr", "local", "caps", "busybox")
    shutil.copy2(os.path.join(tmp_rootfs, "bin", "busybox"), binary)
    subprocess.run(["setcap", filecaps, binary], check=True)
    assert "cap_dac_override" in subprocess.run(["getcap", binary], capture_output=True, text=True).stdout
    for user in ("10001", "0"):
        p = sh("/usr/local/caps/busybox cat /proc/self/status", "--user", user, *NNP_OFF, rootfs=tmp_rootfs)
        if p.returncode == 126:
            # the kernel refuses to execute a capability-dumb binary whose permitted caps it cannot grant
            assert "Operation not permitted" in p.stderr and filecaps.endswith("p"), p.stderr
            continue
        assert p.returncode == 0, p.stderr
        st = status_fields(p.stdout)
        for s in SETS:
            assert int(st[s], 16) == 0, (user, s, st[s])
