"""hardrun check: the report matches what the workload itself sees, the advice for what the hardening refused,
the exit status (0 clean, 1 the hardening, 2 the workload), JSON and JUnit output."""
import json
import os
import xml.etree.ElementTree as ET

import pytest

from conftest import HARDRUN, ROOTFS, UNPRIV_UID, hardrun, status_fields

LAYERS = {"user", "capabilities", "no_new_privs", "seccomp", "apparmor", "landlock", "cgroup", "namespaces",
          "filesystem", "network", "rlimits"}


def check(*args, user=None, rootfs=None, timeout=60):
    """`hardrun check --format json [args]`; returns (exit code, report, the workload's output on stderr)."""
    cmd = [HARDRUN, "check", "--format", "json", "-q", "--rootfs", rootfs or ROOTFS] + list(args)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    import subprocess
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        report = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {p.returncode}): {p.stdout!r} {p.stderr!r}")
    assert report["exit_code"] == p.returncode
    return p.returncode, report, p.stderr


def layer(report, name):
    return next(l for l in report["layers"] if l["name"] == name)


def fixes(report):
    return [f["fix"] for f in report["findings"]]


def test_a_root_owned_image_directory_gets_tmpcopyup_with_the_workloads_uid(tmp_rootfs):
    # issue 15 (nginx's /run/nginx.pid in Debian's root-owned /run, docs/check.md's session): tmpcopyup keeps the
    # image's owner and mode, so the advice gives the tmpfs itself to the workload's uid, and the fix works
    os.makedirs(os.path.join(tmp_rootfs, "run", "lock"), exist_ok=True)
    os.chmod(os.path.join(tmp_rootfs, "run"), 0o755)
    script = "echo $$ > /run/app.pid && ls -d /run/lock && echo started"
    code, r, _ = check("--diagnose", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 1 and "mount a tmpfs or a volume at /run (--tmpfs /run:tmpcopyup,uid=10001 or -v HOSTDIR:/run)" in fixes(r), r["findings"]
    # a plain tmpcopyup, as the advice used to say: the reason, and the fix
    code, r, _ = check("--diagnose", "--tmpfs", "/run:tmpcopyup", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 1, r["findings"]
    assert fixes(r) == ["give the tmpfs to uid 10001 and keep the image's files: --tmpfs /run:tmpcopyup,uid=10001"], r["findings"]
    assert "/run is a tmpcopyup tmpfs, which keeps the image's owner and mode there" in r["findings"][0]["message"]
    code, r, err = check("--diagnose", "--tmpfs", "/run:tmpcopyup,uid=10001", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 0 and not r["findings"], r["findings"]


def test_enoent_under_a_tmpfs_that_hides_the_images_directory(tmp_rootfs):
    # issue 15: postgres' lock file in /run/postgresql, with a bare --tmpfs /run: the directory is in the image, the
    # tmpfs hides it, so open(O_CREAT) fails with ENOENT. That is the plan's doing (HARDENING), with the fix
    # tmpcopyup; a directory the image lacks as well is the workload's own failure (no finding, exit 2)
    os.makedirs(os.path.join(tmp_rootfs, "run", "app"))
    os.chown(os.path.join(tmp_rootfs, "run", "app"), 10001, 10001)
    script = "echo $$ > /run/app/app.pid && echo started"
    code, r, _ = check("--diagnose", "--tmpfs", "/run", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 1, r["findings"]
    f = [x for x in r["findings"] if "ENOENT" in x["message"]]
    assert len(f) == 1, r["findings"]
    assert f[0]["layer"] == "filesystem"
    assert "/run/app is in the image, but the tmpfs at /run hides it" in f[0]["message"], f[0]
    assert f[0]["fix"].startswith("fill that tmpfs with the image's files there: --tmpfs /run:tmpcopyup"), f[0]
    # the fix works: the copy keeps /run/app's owner, so uid 10001 writes there
    code, r, _ = check("--diagnose", "--tmpfs", "/run:tmpcopyup", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 0 and not r["findings"], r["findings"]
    # the image has no /run/other either: not the hardening's doing
    code, r, _ = check("--diagnose", "--tmpfs", "/run", "--", "sh", "-c", "echo 1 > /run/other/x", rootfs=tmp_rootfs)
    assert code == 2 and not [x for x in r["findings"] if "ENOENT" in x["message"]], r["findings"]


def test_report_matches_what_the_workload_sees(as_user):
    # the workload prints its own /proc/self/status; the report must say the same about it
    code, r, err = check("--", "sh", "-c", "cat /proc/self/status; readlink /proc/self/ns/net", user=as_user)
    assert code == 0, r["verdict"]
    st = status_fields(err)
    assert {l["name"] for l in r["layers"]} == LAYERS
    assert all(l["status"] in ("ok", "n/a") for l in r["layers"]), r["layers"]
    assert st["NoNewPrivs"] == "1" and layer(r, "no_new_privs")["evidence"] == "NoNewPrivs 1"
    assert st["Seccomp"] == "2" and layer(r, "seccomp")["evidence"].startswith("Seccomp 2 (filter)")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f"{cap} {int(st[cap], 16):016x}" in layer(r, "capabilities")["evidence"]
    assert st["Uid"].split() == ["10001"] * 4
    assert "Uid 10001/10001/10001/10001" in layer(r, "user")["evidence"]
    assert "net own" in layer(r, "namespaces")["evidence"]
    assert "/ ro" in layer(r, "filesystem")["evidence"]
    assert layer(r, "network")["evidence"] == "interfaces: lo"
    o = r["outcome"]
    assert o["status"] == 0 and o["signal"] is None and o["oom_killed"] is False
    assert o["wall_seconds"] > 0 and o["max_rss_kib"] > 0 and "user_cpu_seconds" in o
    assert r["findings"] == [] and r["warnings"] == []


def test_evidence_of_a_workload_that_exits_at_once():
    # the tracer stops the workload right after its execve, so even /bin/true has its namespaces read
    code, r, _ = check("--", "true")
    assert code == 0
    assert "mnt own" in layer(r, "namespaces")["evidence"]
    assert not any("not read back" in l["evidence"] for l in r["layers"])


def test_missing_limits_are_a_note_not_a_failure():
    # what `hardrun lint` flags (limits.memory, limits.pids) is named, but the run still passes
    code, r, _ = check("--", "true")
    assert code == 0, r["verdict"]
    assert "note: no memory limit (--memory)" in r["verdict"] and "limits.pids" in r["verdict"], r["verdict"]
    assert any("limits.memory" in n for n in layer(r, "cgroup")["notes"])
    lint = hardrun("lint", "--format", "json", "--flags", "--", "--rootfs", ROOTFS)
    assert {"limits.memory", "limits.pids"} <= {f["rule"] for f in json.loads(lint.stdout)["subjects"][0]["findings"]}


def test_probe_verdict_counts_the_not_applicable_ones():
    code, r, _ = check("--probes")
    # the plan sets no memory or pids limit: those three probes are findings (issue 15 item 6)
    limit_probes = {"memory-limit", "pids-limit", "fork-bomb"}
    assert {p["name"] for p in r["probes"] if p["verdict"] == "not-blocked"} == limit_probes, r["verdict"]
    assert code == 1 and "3 probe(s) not blocked" in r["verdict"], r["verdict"]
    verdicts = [p["verdict"] for p in r["probes"] if p["name"] not in limit_probes]
    blocked, na = verdicts.count("blocked"), verdicts.count("not-applicable")
    assert blocked + na == len(verdicts), r["verdict"]
    code, r, _ = check("--probes", *[a for p in sorted(set(x["name"] for x in r["probes"]) - limit_probes) for a in ("--probe", p)])
    assert code == 0, r["verdict"]
    if na:
        assert r["verdict"].startswith(f"{blocked} probe(s) blocked, {na} not applicable here"), r["verdict"]
        assert "every probe was blocked" not in r["verdict"]
    else:
        assert r["verdict"].startswith("every probe was blocked"), r["verdict"]


def test_write_to_var_log_gets_the_tmpfs_advice(as_user, tmp_path):
    script = "echo hello > /var/log/app.log && cat /var/log/app.log"
    code, r, err = check("--diagnose", "--", "sh", "-c", script, user=as_user)
    assert code == 1, r["verdict"]
    assert "Read-only file system" in err  # the workload's own error
    assert any(f.startswith("mount a tmpfs or a volume at /var/log") for f in fixes(r)), r["findings"]
    assert any("/var/log/app.log" in f["message"] and "EROFS" in f["message"] for f in r["findings"])
    # the advice works: with a tmpfs there, the same workload succeeds
    code, r, err = check("--diagnose", "--tmpfs", "/var/log:noexec", "--", "sh", "-c", script, user=as_user)
    assert code == 0, r
    assert "hello" in err and r["findings"] == []


def test_mkdir_under_var_cache_names_the_directory():
    # the demo image's /var/cache is empty: the fix mounts it (covering whatever else the workload makes there,
    # issue 15 item 4c), not the one leaf of this run
    code, r, _ = check("--diagnose", "--", "mkdir", "/var/cache/app")
    assert code == 1
    assert any(f.startswith("mount a tmpfs or a volume at /var/cache (--tmpfs /var/cache ") for f in fixes(r)), r["findings"]


def test_write_to_a_read_only_volume_says_mount_it_rw(tmp_path):
    vol = tmp_path / "data"
    vol.mkdir()
    code, r, err = check("--diagnose", "-v", f"{vol}:/data:ro", "--", "sh", "-c", "echo x > /data/out")
    assert code == 1, r["verdict"]
    assert "Read-only file system" in err
    f = next(f for f in r["findings"] if "/data/out" in f["message"])
    assert f"/data is a read-only volume ({vol})" in f["message"], f
    assert f"-v {vol}:/data:rw" in f["fix"], f
    assert "root filesystem" not in f["message"] and "--tmpfs" not in f["fix"], f
    assert not (vol / "out").exists()


def test_write_to_proc_sys_is_a_host_setting_not_a_tmpfs():
    code, r, err = check("--diagnose", "--", "sh", "-c", "echo x > /proc/sys/kernel/domainname")
    assert code == 1, r["verdict"]
    assert "Read-only file system" in err
    f = next(f for f in r["findings"] if "/proc/sys/kernel/domainname" in f["message"])
    assert "/proc/sys is read-only in the sandbox" in f["message"], f
    assert "sysctl -w kernel.domainname=VALUE" in f["fix"] and "--tmpfs" not in f["fix"], f
    # the old advice could not be followed: hardrun refuses a tmpfs over /proc/sys
    p = hardrun("run", "--rootfs", ROOTFS, "--tmpfs", "/proc/sys/kernel", "--", "true")
    assert p.returncode == 125, p.stderr


def test_write_to_sys_is_never_writable():
    code, r, err = check("--diagnose", "--", "touch", "/sys/hardrun-check")
    assert code == 1, r["verdict"]
    f = next(f for f in r["findings"] if "/sys/hardrun-check" in f["message"])
    assert "/sys is never writable in the sandbox" in f["message"], f
    assert "--tmpfs" not in f["fix"], f


def test_eacces_from_landlock_is_blamed_on_landlock():
    # the file modes let the workload write its own oom_score_adj (and procfs is mounted read-write), but
    # Landlock gives /proc read rights only
    script = "echo 500 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj"
    code, r, err = check("--diagnose", "--", "sh", "-c", script)
    assert code == 1, r["verdict"]
    assert "Permission denied" in err
    f = next(f for f in r["findings"] if "/proc/self/oom_score_adj" in f["message"])
    assert f["layer"] == "landlock" and "Landlock refused it" in f["message"], f
    # proof: without Landlock the same write works
    code, r, err = check("--diagnose", "--landlock", "off", "--", "sh", "-c", script)
    assert r["outcome"]["status"] == 0 and "500" in err, r
    assert not any("oom_score_adj" in f["message"] for f in r["findings"]), r["findings"]


def test_binding_port_80_gets_the_capability_advice():
    # in the host's network namespace (in its own, ports below 1024 need no capability: docker's default)
    code, r, err = check("--diagnose", "--network", "host", "--", "httpd", "-p", "80", "-h", "/")
    assert code == 1, r
    assert "add --cap-add NET_BIND_SERVICE, or listen on a port above 1023" in fixes(r), r["findings"]
    # in its own network namespace httpd binds :80 with no capability and nothing is refused
    code, r, _ = check("--diagnose", "--", "httpd", "-p", "80", "-h", "/")
    assert r["outcome"]["status"] == 0 and r["findings"] == [], r
    # with the capability (a warning: exit 1), httpd binds and daemonizes (exit 0) and nothing is refused
    code, r, _ = check("--diagnose", "--network", "host", "--cap-add", "NET_BIND_SERVICE", "--", "httpd", "-p", "80", "-h", "/")
    assert r["outcome"]["status"] == 0, r
    assert r["findings"] == []
    assert code == 1 and any("CAP_NET_BIND_SERVICE" in w for w in r["warnings"])
    assert f"CapEff {1 << 10:016x}" in layer(r, "capabilities")["evidence"]


def test_denied_syscall_is_named_without_diagnose(as_user):
    # busybox dmesg calls syslog(2), which the default profile refuses: the user-notification report names it
    code, r, _ = check("--", "dmesg", user=as_user)
    assert code == 1
    assert ("only if the workload needs it: allow syslog in a profile of your own (this opens the kernel log (kernel "
            "addresses, the host's messages)), or record one with `hardrun seccomp record`") in fixes(r), r["findings"]
    # without the filter there is no seccomp finding (dmesg still fails: kernel.dmesg_restrict)
    code, r, _ = check("--security-opt", "seccomp=unconfined", "--", "dmesg", user=as_user)
    assert not any(f["kind"] == "seccomp" for f in r["findings"])
    assert layer(r, "seccomp")["status"] == "warning"


def test_denied_syscall_is_named_by_the_tracer_too():
    code, r, _ = check("--diagnose", "--", "unshare", "-U", "true")
    assert code == 1
    assert any("unshare" in f["message"] and f["kind"] == "seccomp" for f in r["findings"]), r["findings"]


def test_failing_on_its_own_is_exit_2():
    code, r, _ = check("--", "sh", "-c", "exit 3")
    assert code == 2, r
    assert r["outcome"]["status"] == 3
    assert r["findings"] == []
    code, r, _ = check("--", "/no/such/program")
    assert code == 2
    assert "not found" in r["verdict"] or "No such file" in r["verdict"]


def test_a_threaded_program_failing_on_its_own_is_exit_2():
    # pthread_create: glibc's clone3 gets the profile's deliberate ENOSYS and falls back to clone; that is by design,
    # never a finding, never the verdict
    code, r, err = check("--", "/usr/local/bin/threaded", "3")
    assert "the thread ran" in err, err
    assert code == 2, r
    assert r["outcome"]["status"] == 3
    assert r["findings"] == [], r["findings"]
    assert not any("clone3" in f["fix"] for f in r["findings"])
    code, r, _ = check("--diagnose", "--", "/usr/local/bin/threaded", "3")
    assert code == 2 and r["findings"] == [], r["findings"]
    code, r, _ = check("--", "/usr/local/bin/threaded", "0")
    assert code == 0, r["verdict"]


def test_weakened_layers_are_warnings_with_evidence():
    code, r, _ = check("--security-opt", "no-new-privileges=false", "--security-opt", "seccomp=unconfined",
                       "--", "true")
    assert code == 1
    assert layer(r, "no_new_privs")["status"] == "warning"
    assert layer(r, "no_new_privs")["evidence"] == "NoNewPrivs 0"
    assert layer(r, "seccomp")["evidence"].startswith("Seccomp 0")
    assert any(w.startswith("no_new_privs:") for w in r["warnings"])
    assert any(w.startswith("seccomp:") for w in r["warnings"])


def test_human_report_and_junit(tmp_path):
    junit = tmp_path / "check.xml"
    p = hardrun("check", "--rootfs", ROOTFS, "--junit", str(junit), "--probes", "--probe", "mount",
                "--probe", "bpf", "--", "true")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASS (exit 0)" in p.stdout
    assert "mount(2) -> EPERM: blocked by seccomp and by missing CAP_SYS_ADMIN" in p.stdout
    suite = ET.parse(junit).getroot()
    cases = suite.findall(".//testcase")
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert {("hardrun.check.layer", l) for l in LAYERS} <= names
    assert ("hardrun.check.probe", "mount") in names and ("hardrun.check.probe", "bpf") in names
    assert ("hardrun.check.workload", "true") in names
    assert not suite.findall(".//failure") and not suite.findall(".//error")


def test_output_file_and_usage_errors(tmp_path):
    out = tmp_path / "r.json"
    p = hardrun("check", "--rootfs", ROOTFS, "--format", "json", "-o", str(out), "--", "true")
    assert p.returncode == 0
    assert json.loads(out.read_text())["exit_code"] == 0
    p = hardrun("check", "--rootfs", ROOTFS)
    assert p.returncode == 125 and "no command given" in p.stderr
    p = hardrun("check", "--rootfs", ROOTFS, "--probe", "no-such-probe")
    assert p.returncode == 125 and "no-such-probe" in p.stderr


def test_hardening_error_is_exit_1(tmp_path):
    # a layer that cannot be applied fails closed and is the hardening's fault
    code, r, _ = check("--security-opt", "apparmor=no-such-profile", "--", "true")
    assert code == 1
    assert r["outcome"]["error"] or any(f["kind"] == "setup" for f in r["findings"])


def test_probe_binary_is_refused_unless_safe(tmp_path):
    # fail closed: a missing probe binary, or one that others could have replaced, stops the check
    env = dict(os.environ, HARDRUN_PROBE=str(tmp_path / "missing"))
    p = hardrun("check", "--rootfs", ROOTFS, "--probe", "mount", env=env)
    assert p.returncode == 125 and "not found" in p.stderr, p.stderr
    probe = tmp_path / "hardrun-probe"
    real = os.path.join(os.path.dirname(HARDRUN), "probes", "hardrun-probe")
    probe.write_bytes(open(real, "rb").read())
    os.chmod(probe, 0o777)
    env["HARDRUN_PROBE"] = str(probe)
    p = hardrun("check", "--rootfs", ROOTFS, "--probe", "mount", env=env)
    assert p.returncode == 125 and "writable by group or others" in p.stderr, p.stderr
    os.chmod(probe, 0o755)
    p = hardrun("check", "--rootfs", ROOTFS, "--probe", "mount", env=env)
    assert p.returncode == 0, p.stdout + p.stderr


def test_init_reads_the_workload_not_the_reaper():
    code, r, err = check("--init", "--diagnose", "--", "sh", "-c", "cat /proc/self/status; touch /etc/x")
    assert code == 1
    assert any(f.startswith("mount a tmpfs or a volume at /etc") for f in fixes(r))
    assert "NoNewPrivs:\t1" in err and layer(r, "no_new_privs")["evidence"] == "NoNewPrivs 1"


def test_a_symlinked_var_run_gets_the_advice_to_mount_run(tmp_rootfs):
    # issue 15 item 4(d): Debian's /var/run is a symlink into /run; a mount target never runs through a symlink,
    # so the fix names /run, and a flag at /var/run says where the link leads
    link = os.path.join(tmp_rootfs, "var", "run")
    if os.path.isdir(link) and not os.path.islink(link):
        os.rmdir(link)
    os.symlink("/run", link)
    code, r, _ = check("--diagnose", "--", "sh", "-c", "echo 1 > /var/run/app.pid", rootfs=tmp_rootfs)
    assert code == 1, r["verdict"]
    assert any(f.startswith("mount a tmpfs or a volume at /run (--tmpfs /run ") for f in fixes(r)), r["findings"]
    p = hardrun("run", "--rootfs", tmp_rootfs, "--tmpfs", "/var/run/app", "--", "true")
    assert p.returncode == 125 and len(p.stderr.splitlines()) == 1, p.stderr
    assert "(/var/run -> /run in the image: mount at /run/app instead)" in p.stderr
    # the fix works
    code, r, _ = check("--tmpfs", "/run", "--", "sh", "-c", "echo 1 > /var/run/app.pid", rootfs=tmp_rootfs)
    assert code == 0, r["verdict"]


def test_mkdirs_in_an_empty_image_directory_get_one_fix_for_all(tmp_rootfs):
    # issue 15 item 4(c): nginx makes body, proxy, fastcgi... in its empty /var/lib/nginx: one run, one fix at the
    # parent, instead of one leaf per run; a directory with the image's files gets tmpcopyup so none is hidden
    os.makedirs(os.path.join(tmp_rootfs, "var", "lib", "web"))
    script = "mkdir /var/lib/web/body && mkdir /var/lib/web/proxy && echo ok"
    code, r, _ = check("--diagnose", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 1, r["verdict"]
    assert "mount a tmpfs or a volume at /var/lib/web (--tmpfs /var/lib/web or -v HOSTDIR:/var/lib/web)" in fixes(r), r["findings"]
    code, r, err = check("--tmpfs", "/var/lib/web", "--", "sh", "-c", script, rootfs=tmp_rootfs)
    assert code == 0, r["verdict"]  # the fix, followed once, is enough
    with open(os.path.join(tmp_rootfs, "etc", "app.conf"), "w") as f:
        f.write("x\n")
    code, r, _ = check("--diagnose", "--", "sh", "-c", "echo y > /etc/app.conf.new", rootfs=tmp_rootfs)
    assert any("--tmpfs /etc:tmpcopyup" in x for x in fixes(r)), r["findings"]


def test_a_directory_only_its_group_may_enter_gets_group_add(tmp_rootfs):
    # issue 15 item 4(a): postgres' key is under /etc/ssl/private (0710 root:ssl-cert); the EACCES of a stat or an
    # open there names the path and the group, and the fix is --group-add, not a capability
    private = os.path.join(tmp_rootfs, "srv", "private")
    os.makedirs(private)
    with open(os.path.join(private, "key"), "w") as f:
        f.write("secret\n")
    os.chown(private, 0, 4000)
    os.chmod(private, 0o710)
    os.chown(os.path.join(private, "key"), 0, 4000)
    os.chmod(os.path.join(private, "key"), 0o640)
    with open(os.path.join(tmp_rootfs, "etc", "group"), "a") as f:
        f.write("keys:x:4000:\n")
    for script in ("cat /srv/private/key", "stat /srv/private/key >/dev/null && echo seen"):
        code, r, _ = check("--diagnose", "--", "sh", "-c", script, rootfs=tmp_rootfs)
        assert code == 1, r["verdict"]
        f = [x for x in r["findings"] if "/srv/private/key" in x["message"]]
        assert f and f[0]["fix"].startswith("--group-add keys "), r["findings"]
        assert "lets in its group keys (gid 4000)" in f[0]["message"], f[0]
        assert "--cap-add" not in f[0]["fix"]
    code, r, err = check("--group-add", "keys", "--", "cat", "/srv/private/key", rootfs=tmp_rootfs)
    assert code == 0, r["verdict"]


def test_a_directory_only_its_owner_may_enter_gets_run_as_the_owner(tmp_rootfs):
    # issue 15 item 4(b): postgres' data directory is 0700 postgres; the EACCES it tolerates on the way to its
    # "wrong ownership" refusal leads to -u OWNER, not to making a file accessible
    data = os.path.join(tmp_rootfs, "srv", "db")
    os.makedirs(data)
    open(os.path.join(data, "conf"), "w").close()
    os.chown(data, 4242, 4243)
    os.chmod(data, 0o700)
    with open(os.path.join(tmp_rootfs, "etc", "passwd"), "a") as f:
        f.write("svc:x:4242:4243:a service:/srv/db:/bin/false\n")
    code, r, _ = check("--diagnose", "--", "cat", "/srv/db/conf", rootfs=tmp_rootfs)
    assert code == 1, r["verdict"]
    f = [x for x in r["findings"] if "/srv/db/conf" in x["message"]]
    assert f and f[0]["fix"].startswith("-u 4242:4243 (run as svc"), r["findings"]
    assert "lets in only its owner svc (uid 4242)" in f[0]["message"]
    code, r, _ = check("-u", "4242:4243", "--", "cat", "/srv/db/conf", rootfs=tmp_rootfs)
    assert code == 0, r["verdict"]


SERVER = "trap 'echo stopping; exit 0' TERM; while :; do sleep 0.1; done"


def test_a_server_is_served_for_a_while_then_stopped_with_sigterm():
    # issue 15 item 5: --timeout stops a server with SIGTERM; its clean exit is no failure
    code, r, err = check("--timeout", "1s", "--", "sh", "-c", SERVER)
    assert code == 0, r["verdict"]
    assert r["serve"]["stopped_by_check"] is True and r["serve"]["killed"] is False, r["serve"]
    assert 0.9 <= r["serve"]["served_seconds"] < 10
    assert "stopping" in err
    # with --init, a program without a SIGTERM handler is stopped too (the init forwards it: exit 143)
    code, r, _ = check("--init", "--timeout", "1", "--", "sleep", "100")
    assert code == 0, r["verdict"]


def test_a_server_that_ignores_sigterm_gets_its_report_with_the_cause():
    code, r, _ = check("--timeout", "500ms", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done", timeout=60)
    assert code == 2, r["verdict"]
    assert r["serve"]["killed"] is True
    assert "did not stop on SIGTERM and was killed" in r["verdict"]
    assert any("did not exit within 10 s of SIGTERM" in n for n in r["notes"]), r["notes"]


def test_exercise_runs_a_client_on_the_host_while_the_server_serves(tmp_path):
    # the server writes into a volume; the client on the host waits for it, then check stops the server
    vol = tmp_path / "v"
    vol.mkdir()
    os.chmod(vol, 0o777)
    server = "trap 'exit 0' TERM; echo up > /srv/out/state; while :; do sleep 0.1; done"
    client = f"for i in $(seq 100); do test -s {vol}/state && exit 0; sleep 0.1; done; exit 9"
    code, r, _ = check("-v", f"{vol}:/srv/out", "--exercise", client, "--", "sh", "-c", server)
    assert code == 0, r["verdict"]
    assert r["serve"]["exercise_status"] == 0 and r["serve"]["stopped_by_check"], r["serve"]
    # a failing client is the verdict's cause
    code, r, _ = check("--exercise", "exit 3", "--", "sh", "-c", SERVER)
    assert code == 2 and "the exercise `exit 3` exited 3" in r["verdict"], r["verdict"]
    p = hardrun("check", "--rootfs", ROOTFS, "--timeout", "soon", "--", "true")
    assert p.returncode == 125 and "is not a duration" in p.stderr, p.stderr
