"""hardrun lint on the command line: exit status and --fail-on, the formats (human, JSON, SARIF), every input
kind (OCI config.json or bundle, --flags, a systemd unit, Kubernetes manifests), and errors."""
import json
import os
import subprocess

from conftest import HARDRUN, ROOT, clone3_allowing_profile, hardrun

DATA = os.path.join(ROOT, "tests", "data", "lint")
OCI = os.path.join(ROOT, "tests", "data", "oci", "test-config")


def lint(*args):
    return hardrun("lint", *args)


def test_hardened_inputs_pass():
    for f in ("oci-hardened.json", "k8s-hardened-deployment.yaml", "hardrun-hardened.service", "compose-hardened.yaml"):
        p = lint(os.path.join(DATA, f))
        assert p.returncode == 0, (f, p.stdout, p.stderr)
        assert "PASS" in p.stdout
    p = lint("--flags", "--", "--memory", "256m", "--pids-limit", "64")
    assert p.returncode == 0, p.stdout


def test_insecure_inputs_fail_with_fixes():
    p = lint(os.path.join(DATA, "k8s-insecure-pod.yaml"))
    assert p.returncode == 1
    assert "hostNetwork: false" in p.stdout and "runAsNonRoot: true" in p.stdout
    assert "exposure 10.0/10 UNSAFE" in p.stdout
    p = lint("--flags", "--", "--user", "0", "--cap-add", "SYS_ADMIN")
    assert p.returncode == 1
    assert "CRITICAL" in p.stdout and "--user 10001" in p.stdout


def test_fail_on_threshold():
    flags = ["--flags", "--", "--memory", "1g", "--pids-limit", "9", "--tmpfs", "/scratch:exec"]  # one low finding
    assert lint(*flags).returncode == 1
    assert lint("--fail-on", "medium", *flags).returncode == 0
    assert lint("--fail-on", "LOW", *flags).returncode == 1
    assert lint("--fail-on", "urgent", *flags).returncode == 125


def test_json_and_sarif():
    p = lint("--format", "json", os.path.join(DATA, "oci-insecure.json"))
    j = json.loads(p.stdout)
    assert j["exit_code"] == 1 == p.returncode
    rules = {f["rule"] for f in j["subjects"][0]["findings"]}
    assert {"user.root", "seccomp.unconfined", "env.secret", "devices.privileged"} <= rules
    p = lint("--format", "sarif", os.path.join(DATA, "k8s-insecure-pod.yaml"), os.path.join(DATA, "hardrun-insecure.service"))
    s = json.loads(p.stdout)
    assert s["version"] == "2.1.0"
    results = s["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {os.path.join(DATA, "k8s-insecure-pod.yaml"), os.path.join(DATA, "hardrun-insecure.service")}
    assert all(r["level"] in ("error", "warning", "note") for r in results)
    # the AppArmor finding points at the annotation that decided it (line 7), not at the securityContext
    aa = [r for r in results if r["ruleId"] == "apparmor.unconfined"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in aa] == [7], aa
    # a DaemonSet's (and a CronJob's) fields are under their pod template, and SARIF says so
    p = lint("--format", "sarif", os.path.join(DATA, "k8s-privileged-daemonset.yaml"))
    logical = [r["locations"][0]["logicalLocations"][0] for r in json.loads(p.stdout)["runs"][0]["results"]]
    ds = [l["name"] for l in logical if l["fullyQualifiedName"].startswith("DaemonSet/") and "spec" in l["name"]]
    cj = [l["name"] for l in logical if l["fullyQualifiedName"].startswith("CronJob/") and "spec" in l["name"]]
    assert ds and all(n.startswith("spec.template.spec.") for n in ds), ds
    assert cj and all(n.startswith("spec.jobTemplate.spec.template.spec.") for n in cj), cj
    # the unit's ExecStart line
    unit = [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".service")]
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in unit} == {6}


def test_output_file(tmp_path):
    out = tmp_path / "lint.sarif"
    p = lint("--format", "sarif", "-o", str(out), os.path.join(DATA, "oci-insecure.json"))
    assert p.returncode == 1 and p.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


# The runtime-spec's valid examples are not hardened: each is parsed and then fails the baseline (exit 1),
# each for its own reasons. Every fixture is listed, so a new one must get its expected result here.
OCI_GOOD = {
    "minimal.json": (1, {"user.root", "nnp.off", "ns.host-pid", "limits.memory"}),
    "minimal-for-start.json": (1, {"user.root", "nnp.off", "ns.host-network", "limits.pids"}),
    "linux-netdevice.json": (1, {"user.root", "ns.host-network", "seccomp.unset"}),
    "linux-rdma.json": (1, {"user.root", "masked.off", "fs.writable-root"}),
    "spec-example.json": (1, {"devices.privileged", "seccomp.permissive", "caps.added"}),
}


def test_oci_fixtures_and_bundles(tmp_path):
    assert set(os.listdir(os.path.join(OCI, "good"))) == set(OCI_GOOD)
    for f, (code, rules) in OCI_GOOD.items():
        p = lint(os.path.join(OCI, "good", f))
        assert p.returncode == code, (f, p.stdout, p.stderr)
        assert "exposure" in p.stdout
        j = json.loads(lint("--format", "json", os.path.join(OCI, "good", f)).stdout)
        got = {x["rule"] for s in j["subjects"] for x in s["findings"]}
        assert rules <= got, (f, got)
    for f in os.listdir(os.path.join(OCI, "bad")):
        p = lint(os.path.join(OCI, "bad", f))
        assert p.returncode == 125, (f, p.stdout)
        assert p.stderr.startswith("hardrun: lint: "), p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    # a bundle directory means its config.json; `hardrun spec` writes one that only lacks limits
    assert subprocess.run([HARDRUN, "spec"], cwd=tmp_path).returncode == 0
    p = lint("--format", "json", str(tmp_path))
    rules = {f["rule"] for f in json.loads(p.stdout)["subjects"][0]["findings"]}
    assert rules == {"limits.memory", "limits.pids"}


def test_errors_are_one_line():
    p = lint("/no/such/file.json")
    assert p.returncode == 125 and "No such file" in p.stderr
    p = lint()
    assert p.returncode == 125 and "nothing to lint" in p.stderr
    p = lint("--flags", "--", "--no-such-flag")
    assert p.returncode == 125


def test_a_profile_allowing_clone3_is_a_finding(tmp_path):
    path, _ = clone3_allowing_profile(tmp_path)
    flags = ["--flags", "--", "--memory", "256m", "--pids-limit", "64"]
    assert lint(*flags, "--security-opt", "seccomp=" + os.path.join(ROOT, "profiles", "seccomp", "default.json")).returncode == 0
    p = lint("--format", "json", *flags, "--security-opt", f"seccomp={path}")
    assert p.returncode == 1, p.stdout
    found = [f for f in json.loads(p.stdout)["subjects"][0]["findings"] if f["rule"] == "seccomp.clone3"]
    assert len(found) == 1 and found[0]["severity"] == "high", found
    assert "errnoRet 38" in found[0]["fix"]
    # an OCI config's linux.seccomp, in the human report on one line each
    with open(os.path.join(DATA, "oci-hardened.json")) as f:
        cfg = json.load(f)
    # its own linux.seccomp (OCI's shape, not the docker-format profile), with the clone3 refusal turned into an allow
    rules = cfg["linux"]["seccomp"]["syscalls"]
    clone3 = [r for r in rules if r["names"] == ["clone3"]]
    assert clone3, "oci-hardened.json refuses clone3"
    for r in clone3:
        r.clear()
        r.update(names=["clone3"], action="SCMP_ACT_ALLOW")
    (tmp_path / "config.json").write_text(json.dumps(cfg, indent=2))
    p = lint(str(tmp_path / "config.json"))
    assert p.returncode == 1 and "seccomp.clone3" in p.stdout, p.stdout
    line = next(l for l in p.stdout.splitlines() if "seccomp.clone3" in l)
    assert "HIGH" in line or "high" in line, line


def test_compose_file(tmp_path):
    # issue 15 item 7: docker compose files, with the same rules and compose's own fixes, SARIF included
    path = os.path.join(DATA, "compose-insecure.yaml")
    p = lint("--format", "json", path)
    assert p.returncode == 1, p.stderr
    j = json.loads(p.stdout)
    by = {s["name"]: {f["rule"]: f for f in s["findings"]} for s in j["subjects"]}
    assert set(by) == {"service web", "service db"}
    assert {"mounts.host-path", "caps.added", "tmpfs.exec", "volume.exec"} <= set(by["service web"])
    assert {"privileged", "ns.host-network", "env.secret", "limits.pids"} <= set(by["service db"])
    assert by["service db"]["limits.pids"]["fix"].startswith("pids_limit: 512")
    assert by["service web"]["tmpfs.exec"]["fix"] == 'tmpfs: ["/run:noexec"]'
    p = lint("--format", "sarif", path)
    results = json.loads(p.stdout)["runs"][0]["results"]
    host = [r for r in results if r["ruleId"] == "mounts.host-path"]
    assert host and host[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 15


def test_unsupported_file_says_what_lint_reads(tmp_path):
    f = tmp_path / "notes.yaml"
    f.write_text("title: nothing to lint\n")
    p = lint(str(f))
    assert p.returncode == 125 and len(p.stderr.splitlines()) == 1, p.stderr
    assert "not a Kubernetes manifest, systemd unit, OCI config or compose file" in p.stderr


def test_bundle_unit_fixes_are_ones_run_bundle_accepts():
    # issue 15 item 7: hardrun@.service runs `run --bundle`, which refuses --memory: the fix names config.json
    p = lint("--format", "json", os.path.join(ROOT, "contrib", "systemd", "hardrun@.service"))
    fixes = [f["fix"] for s in json.loads(p.stdout)["subjects"] for f in s["findings"]]
    assert fixes and not any("--memory" in x or "--pids-limit" in x for x in fixes), fixes
    assert any("linux.resources.memory.limit" in x for x in fixes), fixes
