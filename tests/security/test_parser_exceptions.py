"""Parser exceptions (issue 12, class 3).

A JSON number beyond a 64-bit float (1e400) made nlohmann's parser throw out_of_range.406, which hardrun's
parsers did not catch (they caught parse_error only): the user got "hardrun: [json.exception.out_of_range.406]
number overflow parsing '1e400'", naming neither the file nor the place, from every command that reads JSON.
Every JSON input now goes through one parser (include/hardrun/support/json_text.hpp) that turns any library error into
hardrun's one line: the step, the file, the JSON path of the value and the problem, exit 125.
"""
import json
import os
import shutil
import subprocess

import pytest

from secutil import HARDRUN, ROOT, ROOTFS

PROFILE = os.path.join(ROOT, "tests", "fuzz", "regressions", "seccomp_profile", "number-overflow")


def one_line_error(p, *needles):
    """Exit 125 and exactly one line on stderr, starting with hardrun:, holding every needle and no library text."""
    assert p.returncode == 125, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("hardrun: "), lines[0]
    assert "json.exception" not in p.stderr and "what()" not in p.stderr, lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def hardrun(*args, timeout=30):
    # files, not pipes: a created container keeps the stdio it was created with
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        rc = subprocess.run([HARDRUN] + list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            timeout=timeout).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, rc, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


@pytest.fixture
def bundle(host_dir):
    """A bundle whose config.json is `hardrun spec`'s with process.user.uid = 1e400."""
    b = host_dir / "bundle"
    b.mkdir()
    assert subprocess.run([HARDRUN, "spec", "--bundle", str(b)], capture_output=True).returncode == 0
    os.symlink(ROOTFS, b / "rootfs")
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["process"]["user"]["uid"] = "__BIG__"
    (b / "config.json").write_text(json.dumps(cfg, indent=2).replace('"__BIG__"', "1e400"))
    return b


def test_run_with_such_a_seccomp_profile():
    one_line_error(hardrun("run", "--rootfs", ROOTFS, "--security-opt", f"seccomp={PROFILE}", "--", "true"),
                   f"seccomp: {PROFILE}: ", "syscalls[0].args[0].value", "1e400", "line 2")


@pytest.mark.parametrize("sub", ["show", "compile"])
def test_seccomp_show_and_compile(sub, tmp_path):
    args = ["seccomp", sub, PROFILE] + (["-o", str(tmp_path / "out.bpf")] if sub == "compile" else [])
    one_line_error(hardrun(*args), f"seccomp: {PROFILE}: ", "syscalls[0].args[0].value", "1e400")
    assert not (tmp_path / "out.bpf").exists()


def test_run_bundle_with_such_a_config(bundle):
    config = str(bundle / "config.json")
    one_line_error(hardrun("run", "--bundle", str(bundle)), f"config.json: {config}: ", "process.user.uid", "1e400")


def test_create_with_such_a_config(bundle, host_dir):
    root = host_dir / "state"
    config = str(bundle / "config.json")
    one_line_error(hardrun("--root", str(root), "create", "--bundle", str(bundle), "c1"),
                   f"config.json: {config}: ", "process.user.uid")
    p = hardrun("--root", str(root), "list", "--format", "json")
    assert p.returncode == 0 and json.loads(p.stdout) == [], p  # nothing was created


@pytest.mark.parametrize("what", ["bundle", "config", "profile"])
def test_lint(what, bundle):
    config = str(bundle / "config.json")
    target = {"bundle": str(bundle), "config": config, "profile": PROFILE}[what]
    named = PROFILE if what == "profile" else config
    path = "syscalls[0].args[0].value" if what == "profile" else "process.user.uid"
    # docs/lint.md: 125 when an input cannot be read or parsed, one line naming the file and why
    one_line_error(hardrun("lint", target), f"lint: {named}: ", path, "1e400")


def test_lint_kubernetes_json(host_dir):
    manifest = host_dir / "pod.json"
    manifest.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": '
                        '[{"name": "a", "image": "b", "securityContext": {"runAsUser": 1e400}}]}}')
    one_line_error(hardrun("lint", str(manifest)), f"lint: {manifest}: ",
                   "spec.containers[0].securityContext.runAsUser")


def test_corrupt_container_state(host_dir):
    root = host_dir / "state"
    (root / "c1").mkdir(parents=True)
    state = root / "c1" / "state.json"
    state.write_text('{"ociVersion": "1.0.2", "id": "c1", "pid": 1e400}')
    one_line_error(hardrun("--root", str(root), "state", "c1"), f"state: {state}: is corrupt", "pid", "1e400",
                   "hardrun delete --force c1")
    shutil.rmtree(root)


@pytest.mark.parametrize("text,needle", [
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": -1e400}]}', "syscalls[0].action"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1E+999}', "defaultErrnoRet"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read\xff"], "action": "SCMP_ACT_ALLOW"}]}',
     "syscalls[0].names[0]"),  # invalid UTF-8
    ('[1e400]', "[0]"),
])
def test_other_library_errors_in_a_profile(host_dir, text, needle):
    profile = host_dir / "p.json"
    profile.write_bytes(text.encode("latin-1"))
    one_line_error(hardrun("seccomp", "show", str(profile)), f"seccomp: {profile}: ", needle)
