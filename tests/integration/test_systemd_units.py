"""The example units in contrib/systemd/: valid for systemd (systemd-analyze verify), and their ExecStart
lines really launch under their own CapabilityBoundingSet (host paths swapped for test ones)."""
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

from conftest import HARDRUN, ROOT, ROOTFS

UNITS = os.path.join(ROOT, "contrib", "systemd")
LIMIT_FLAGS = {"--memory", "-m", "--memory-swap", "--memory-reservation", "--cpus", "--cpu-shares", "--pids-limit"}


def unit_files():
    return sorted(f for f in os.listdir(UNITS) if re.search(r"\.(service|socket|timer)$", f))


def directives(path):
    """[(key, value)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (line.startswith("#") or line.startswith(";")):
                continue
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            cur += line
            if "=" in cur and not cur.startswith("["):
                k, v = cur.split("=", 1)
                out.append((k.strip(), v.strip()))
            cur = ""
    return out


def value(path, key):
    vals = [v for k, v in directives(path) if k == key]
    return vals[-1] if vals else None


def test_the_examples_are_there():
    names = unit_files()
    for expected in ("hardrun-web.service", "hardrun-web.socket", "hardrun-batch.service", "hardrun@.service"):
        assert expected in names


def test_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # ExecStart must name an existing executable: point it at the binary under test
    for name in unit_files():
        with open(os.path.join(UNITS, name)) as f:
            text = f.read().replace("/usr/bin/hardrun", HARDRUN)
        (tmp_path / name).write_text(text)
    targets = [str(tmp_path / n) for n in unit_files() if "@." not in n]
    targets.append(str(tmp_path / "hardrun@srv-bundles-web.service"))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + targets, capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == "", p.stderr  # not even an "Unknown key ... ignoring"


@pytest.mark.parametrize("name", ["hardrun-web.service", "hardrun-batch.service"])
def test_systemd_units_for_services_deliver_what_docs_promise(name):
    path = os.path.join(UNITS, name)
    keys = dict(directives(path))
    assert keys.get("KillMode") == "mixed"
    assert keys.get("Delegate") == "yes"  # they use cgroup limits
    assert any(f in shlex.split(keys["ExecStart"]) for f in LIMIT_FLAGS)
    if keys.get("Type") == "notify":
        assert keys.get("NotifyAccess") == "all"


def cgroup_limits_work():
    p = subprocess.run([HARDRUN, "run", "--rootfs", ROOTFS, "--memory", "64m", "--", "true"], capture_output=True,
                       text=True, timeout=60)
    return p.returncode == 0


@pytest.mark.parametrize("name", ["hardrun-web.service", "hardrun-batch.service"])
def test_example_exec_start_runs_under_its_capability_bounding_set(name, tmp_rootfs):
    if os.geteuid() != 0:
        pytest.skip("the system units run hardrun as root")
    path = os.path.join(UNITS, name)
    argv = shlex.split(value(path, "ExecStart"))
    assert argv[0] == "/usr/bin/hardrun" and argv[1] == "run"
    sep = argv.index("--")
    flags = argv[2:sep]
    tmp = tempfile.mkdtemp(prefix="hardrun-unit-test-")
    os.chmod(tmp, 0o755)
    keep_limits = cgroup_limits_work()
    args, i = [], 0
    try:
        while i < len(flags):
            f = flags[i]
            nxt = flags[i + 1] if i + 1 < len(flags) else None
            if f == "--rootfs":
                args += [f, tmp_rootfs]  # a private copy: the volumes' mount points are created in it
                i += 2
            elif f in ("--volume", "-v"):
                src, rest = nxt.split(":", 1)
                d = tempfile.mkdtemp(dir=tmp)
                args += [f, f"{d}:{rest}"]
                i += 2
            elif f == "--secret":
                src, rest = nxt.split(":", 1)
                s = os.path.join(tmp, "secret")
                with open(s, "w") as fh:
                    fh.write("x")
                args += [f, f"{s}:{rest}"]
                i += 2
            elif f in LIMIT_FLAGS and not keep_limits:
                i += 2  # no cgroup v2 controllers on this host: checked on the VM tier
            else:
                args.append(f)
                i += 1
        caps = value(path, "CapabilityBoundingSet").split()
        bset = "-all," + ",".join("+" + c.lower().removeprefix("cap_") for c in caps)
        cmd = ["setpriv", f"--bounding-set={bset}", "--inh-caps=-all", HARDRUN, "run"] + args + \
            ["--", "sh", "-c", "grep -E '^(Uid|CapEff|NoNewPrivs)' /proc/self/status; ls /run/secrets 2>/dev/null || true"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    finally:
        shutil.rmtree(tmp)
    assert p.returncode == 0, p.stderr
    assert "CapEff:\t0000000000000000" in p.stdout
    assert "NoNewPrivs:\t1" in p.stdout
    for f, name in zip(flags, flags[1:]):
        if f == "--secret":
            assert name.split(":")[1] in p.stdout.split()  # the secret is there, readable by the workload


@pytest.mark.parametrize("name", ["hardrun-web.service", "hardrun-batch.service"])
def test_example_units_pass_hardrun_lint(name):
    # the examples are what people copy: they must meet hardrun's own baseline (limits, no weakened layer)
    p = subprocess.run([HARDRUN, "lint", "--fail-on", "low", os.path.join(UNITS, name)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no findings" in p.stdout
