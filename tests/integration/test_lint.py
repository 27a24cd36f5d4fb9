"""hardrun lint on the command line: exit status and --fail-on, the formats (human, JSON, SARIF), every input
kind (OCI config.json or bundle, --flags, a systemd unit, Kubernetes manifests), and errors."""
import json
import os
import subprocess

from conftest import HARDRUN, ROOT, hardrun

DATA = os.path.join(ROOT, "tests", "data", "lint")
OCI = os.path.join(ROOT, "tests", "data", "oci", "test-config")


def lint(*args):
    return hardrun("lint", *args)


def test_hardened_inputs_pass():
    for f in ("oci-hardened.json", "k8s-hardened-deployment.yaml", "hardrun-hardened.service"):
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
    flags = ["--flags", "--", "--memory", "1g", "--pids-limit", "9", "--tmpfs", "/scratch"]  # one low finding
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
    # the unit's ExecStart line
    unit = [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".service")]
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in unit} == {6}


def test_output_file(tmp_path):
    out = tmp_path / "lint.sarif"
    p = lint("--format", "sarif", "-o", str(out), os.path.join(DATA, "oci-insecure.json"))
    assert p.returncode == 1 and p.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


def test_oci_fixtures_and_bundles(tmp_path):
    for f in os.listdir(os.path.join(OCI, "good")):
        p = lint(os.path.join(OCI, "good", f))
        assert p.returncode in (0, 1), (f, p.stderr)
        assert "exposure" in p.stdout
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
