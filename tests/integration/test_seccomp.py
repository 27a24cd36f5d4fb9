"""Seccomp, proven from inside the sandbox with the sysx helper (tests/helpers/sysx.c).

Under hardrun's default profile the dangerous syscalls are refused while a real program runs normally; a
control run without a filter shows the kernel itself would have answered differently, so the refusal is the
filter's. --report lists exactly the refused syscalls without changing what the workload sees, and
`seccomp record` writes a profile that re-runs its workload and refuses what the workload never did.
"""
import json
import os
import subprocess

import pytest

from conftest import HARDRUN, HELPERS, ROOT, ROOTFS, SANITIZED, UNPRIV_UID, hardrun, run

DATA = os.path.join(ROOT, "tests", "data", "seccomp")
PROFILES = os.path.join(ROOT, "profiles", "seccomp")

# sysx test -> what the kernel answers without a filter here (uid 10001, no capabilities); None = varies by host
REFUSED = {
    "unshare": "ok",                    # unshare(0)
    "mount": "ENOENT",                  # mount on ""
    "keyctl": "EOPNOTSUPP",             # unknown command
    "ptrace": "ESRCH",                  # PTRACE_PEEKUSER on ourselves, not traced
    "bpf": "E2BIG",                     # oversized attr
    "perf_event_open": "EFAULT",        # NULL attr
    "kexec_load": None,                 # EPERM (no CAP_SYS_BOOT) or ENOSYS (no kexec)
    "open_by_handle_at": "EFAULT",
    "clone_newns": None,                # EPERM without CAP_SYS_ADMIN either way
    "clone_newuser": "ok",              # an unprivileged user namespace
    "vsock": None,                      # ok or EAFNOSUPPORT (vsock module)
    "personality": "ok",                # personality(0xffff)
}


def sysx(tests, *flags, user=None, check=0, **kw):
    """Runs sysx in the sandbox; returns (process, {test: result})."""
    p = run([*flags, "--", "sysx", *tests], user=user, check=check, **kw)
    results = {}
    for line in p.stdout.splitlines():
        name, _, result = line.partition(" ")
        results[name] = result
    return p, results


def refused(result):
    return result in ("EPERM", "ENOSYS")


def test_default_profile_refuses_dangerous_syscalls(as_user):
    p, res = sysx(list(REFUSED) + ["clone3", "alg", "modify_ldt", "getpid", "inet", "clone_thread",
                                   "personality_query"], user=as_user)
    for name in REFUSED:
        assert res[name] == "EPERM", (name, res)
    assert res["clone3"] == "ENOSYS"      # so libc falls back to clone, whose flags the filter can see
    assert res["alg"] == "EPERM"          # AF_ALG
    assert res["modify_ldt"] == "EPERM"   # allowed by Docker's profile, not by hardrun's
    assert res["getpid"] == "ok"
    assert res["inet"] == "ok"
    assert res["clone_thread"] == "ok"    # a plain fork through clone
    assert res["personality_query"] == "ok"


def test_cap_add_sys_ptrace_lets_ptrace_through_the_profiles_caps_include(as_user):
    # default.json allows ptrace only with CAP_SYS_PTRACE (includes.caps): the capability the workload will
    # really hold decides, so with --cap-add the kernel answers (ESRCH: not traced), without it the filter does
    p, res = sysx(["ptrace", "getpid"], "--cap-add", "SYS_PTRACE", user=as_user)
    assert res == {"ptrace": "ESRCH", "getpid": "ok"}, p.stdout + p.stderr
    p, res = sysx(["ptrace", "getpid"], user=as_user)
    assert res == {"ptrace": "EPERM", "getpid": "ok"}, p.stdout + p.stderr


def test_without_a_filter_the_kernel_answers_otherwise(as_user):
    """The control: the same calls unfiltered, so each EPERM above is the filter's and not the kernel's."""
    p, res = sysx(list(REFUSED), "--security-opt", "seccomp=unconfined", user=as_user)
    for name, expected in REFUSED.items():
        if expected is not None:
            assert res[name] == expected, (name, res)


def test_int80_compat_syscall_is_killed_by_default_but_allowed_by_dockers_profile(as_user):
    p = run(["--", "sysx", "int80_getpid"], user=as_user)
    assert p.returncode == 128 + 31, p  # SIGSYS: i386 is not in hardrun's filter
    assert "int80_getpid" not in p.stdout
    p, res = sysx(["int80_getpid", "getpid"], "--security-opt", f"seccomp={DATA}/docker-default.json", user=as_user)
    assert res["int80_getpid"] == "ok"
    # and the kernel really has the i386 ABI (else the test above would prove nothing)
    p, res = sysx(["int80_getpid"], "--security-opt", "seccomp=unconfined", user=as_user)
    assert res["int80_getpid"] == "ok"


def test_busybox_sh_runs_normally(as_user):
    script = ("echo start; for i in 1 2 3; do echo n$i; done; (echo sub) | cat; ls / | grep -c bin; "
              "cat /etc/passwd | wc -l; mkdir /tmp/d && echo x > /tmp/d/f && cat /tmp/d/f; sleep 0; "
              "wc -c < /proc/self/status >/dev/null && echo proc; echo end")
    p = run(["--", "sh", "-c", script], user=as_user, check=0)
    assert p.stdout.split() == ["start", "n1", "n2", "n3", "sub", "2", "3", "x", "proc", "end"]


def test_newer_syscalls_get_enosys_older_unknown_ones_eperm():
    # Docker's profile names syscalls up to removexattrat (466): 467..469 exist on this kernel (6.15+)
    p, res = sysx(["raw", "468", "-1"], "--security-opt", f"seccomp={DATA}/docker-default.json")
    assert res["raw-468"] == "ENOSYS"
    p, res = sysx(["raw", "468", "-1"], "--security-opt", "seccomp=unconfined")
    if res["raw-468"] == "ENOSYS":
        pytest.skip("this kernel has no syscall 468 (file_getattr, Linux 6.17)")
    assert res["raw-468"] in ("EINVAL", "EBADF")
    # a syscall the profile knows and does not allow stays EPERM
    p, res = sysx(["raw", "272", "0"], "--security-opt", f"seccomp={DATA}/docker-default.json")
    assert res["raw-272"] == "EPERM"


def test_report_lists_exactly_the_refused_syscalls(as_user, shared_dir):
    report = os.path.join(shared_dir, "report.json")
    tests = ["unshare", "mount", "keyctl", "clone3", "getpid", "inet", "vsock", "personality", "personality_query",
             "mount"]
    p1, plain = sysx(tests, user=as_user)
    p2, reported = sysx(tests, "--report", str(report), user=as_user)
    assert reported == plain  # the workload sees exactly what it sees without --report
    with open(report) as f:
        doc = json.load(f)
    denied = {d["syscall"]: d for d in doc["denied"]}
    assert set(denied) == {"unshare", "mount", "keyctl", "clone3", "socket", "personality"}
    assert denied["mount"]["count"] == 2
    assert denied["unshare"]["errno_name"] == "EPERM" and denied["unshare"]["errno"] == 1
    # the syscall numbers of this ABI (clone3 has one number everywhere)
    numbers = {"x86_64": {"unshare": 272, "mount": 165, "keyctl": 250}, "aarch64": {"unshare": 97, "mount": 40, "keyctl": 219}}
    for name, nr in {**numbers.get(os.uname().machine, {}), "clone3": 435}.items():
        assert denied[name]["nr"] == nr, (name, denied[name])
    assert denied["clone3"]["errno_name"] == "ENOSYS"
    assert denied["socket"]["first_args"][0] == 40  # AF_VSOCK; AF_INET went through
    assert denied["socket"]["count"] == 1
    assert denied["personality"]["first_args"][0] == 0xffff
    assert denied["keyctl"]["first_args"][0] == 9999
    for d in doc["denied"]:
        assert d["arch"] == "x86_64" or not os.uname().machine == "x86_64"
    assert doc["workload"]["exit_code"] == 0


def record(profile, workload, user=None, flags=()):
    cmd = [HARDRUN, "seccomp", "record", "-q", *flags, "-o", profile, "--rootfs", ROOTFS, "--", *workload]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    rec = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stderr
    doc = json.load(open(profile))
    if SANITIZED and "--init" in flags:
        # ASan's runtime in hardrun's own code after the filter (the reaper and its fork) maps memory and opens its
        # report file when it needs to, which a recording may not have seen: without these it died once with
        # "Can't open file: .../ubsan.2 (reason: 1)". Allowing them keeps any report it has to write visible
        # (tests/sanitize.sh collects them); sendmsg stays refused. The plain build's profile is left as recorded.
        doc["syscalls"].append({"names": SANITIZER_RUNTIME_CALLS, "action": "SCMP_ACT_ALLOW"})
        with open(profile, "w") as f:
            json.dump(doc, f)
    return doc


SANITIZER_RUNTIME_CALLS = ["mmap", "munmap", "mprotect", "madvise", "mremap", "openat", "open", "write", "writev",
                           "close", "getpid", "gettid", "sched_yield", "readlink", "readlinkat", "sigaltstack",
                           "rt_sigaction", "futex", "clock_gettime", "prctl", "exit_group"]


def test_report_works_under_a_recorded_profile_that_refuses_sendmsg(as_user, shared_dir):
    # issue 15 item 2: the listener used to go to the supervisor with sendmsg, so --report refused every profile
    # that refuses sendmsg (recorded ones do); now the supervisor takes it (pidfd_getfd), root and rootless
    profile = os.path.join(shared_dir, "rec.json")
    workload = ["sysx", "getpid", "fds"]
    doc = record(profile, workload, user=as_user)
    allowed = {n for r in doc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert "sendmsg" not in allowed and doc["defaultAction"] == "SCMP_ACT_ERRNO"  # what makes this test matter
    tests = ["getpid", "fds", "unshare", "mount", "mount"]
    flags = ["--security-opt", f"seccomp={profile}"]
    p1, plain = sysx(tests, *flags, user=as_user)
    report = os.path.join(shared_dir, "report.json")
    p2, reported = sysx(tests, *flags, "--report", report, user=as_user)
    assert p2.returncode == p1.returncode == 0, p2.stderr
    assert reported == plain, (plain, reported)  # the workload sees what it sees without --report
    assert plain["getpid"] == "ok" and refused(plain["unshare"]) and refused(plain["mount"])
    # the listener did not reach the workload: its open fds are 0-2 only (no "anon_inode:seccomp notify")
    assert reported["fds"] == "0,1,2", reported
    denied = {d["syscall"]: d for d in json.load(open(report))["denied"]}
    assert set(denied) == {"unshare", "mount"}, denied  # hardrun's own handoff is not among them
    assert denied["mount"]["count"] == 2


def test_report_under_a_profile_without_sendmsg_rootless_needs_the_child_alone(shared_dir):
    # rootless, the supervisor takes the listener from a child made dumpable for that moment: only from a child
    # alone in its PID namespace, so --init (a reaper that never execs) is refused, naming the way out
    profile = os.path.join(shared_dir, "rec.json")
    doc = record(profile, ["sysx", "getpid"], flags=["--init"])  # the reaper's own calls too
    assert "sendmsg" not in {n for r in doc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    p = run(["--init", "--security-opt", f"seccomp={profile}", "--report", os.path.join(shared_dir, "r.json"),
             "--", "sysx", "getpid"], user=UNPRIV_UID)
    assert p.returncode == 125, p.stderr
    assert p.stdout == ""  # the workload never ran
    assert p.stderr.strip().splitlines()[-1] == (
        "hardrun: seccomp: --report under a profile that refuses sendmsg: without CAP_SYS_PTRACE hardrun takes the "
        "listener from a child that is alone, which needs no --init (a reaper as PID 1); allow sendmsg in the "
        "profile, or run as root"), p.stderr
    # as root the same launch works (CAP_SYS_PTRACE: the child stays non-dumpable)
    assert run(["--init", "--security-opt", f"seccomp={profile}", "--report", os.path.join(shared_dir, "r.json"),
                "--", "sysx", "getpid"]).returncode == 0


def test_init_under_a_profile_that_refuses_the_reapers_calls_is_one_clear_error(shared_dir):
    # a profile recorded without --init lacks the calls of hardrun's PID 1 reaper (fork, wait4...), which it makes
    # under the filter: the launch used to die by SIGSEGV (exit 139) with no word, now it stops before clone
    profile = os.path.join(shared_dir, "rec.json")
    record(profile, ["sysx", "getpid"])
    p = run(["--init", "--security-opt", f"seccomp={profile}", "--", "sysx", "getpid"])
    assert p.returncode == 125, (p.returncode, p.stderr)
    assert p.stdout == ""
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("hardrun: init: profile ") and "clone" in line and "wait4" in line, line
    assert line.endswith("which hardrun's PID 1 reaper makes under the filter (--init); allow them (record the "
                         "profile with --init) or drop --init"), line
    # recorded with --init, the same launch runs
    record(profile, ["sysx", "getpid"], flags=["--init"])
    assert run(["--init", "--security-opt", f"seccomp={profile}", "--", "sysx", "getpid"], check=0).stdout == "getpid ok\n"


def test_report_is_empty_for_a_clean_workload_and_notes_a_sigsys_kill(tmp_path):
    report = tmp_path / "r.json"
    run(["--report", str(report), "--", "sh", "-c", "echo ok"], check=0)
    assert json.loads(report.read_text())["denied"] == []
    p = run(["--report", str(report), "--", "sysx", "int80_getpid"])
    assert p.returncode == 159
    doc = json.loads(report.read_text())
    assert doc["denied"] == []
    assert any("SIGSYS" in n for n in doc["notes"])


def test_record_round_trip(as_user, shared_dir):
    profile = os.path.join(shared_dir, "app.json")
    workload = ["sysx", "getpid", "inet", "clone_thread", "personality_query"]
    cmd = [HARDRUN, "seccomp", "record", "-o", profile, "--rootfs", ROOTFS, "--", *workload]
    if as_user is not None:
        cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups"] + cmd
    rec = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.split() == ["getpid", "ok", "inet", "ok", "clone_thread", "ok", "personality_query", "ok"]
    with open(profile) as f:
        doc = json.load(f)
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and doc["defaultErrnoRet"] == 1
    allowed = set(doc["syscalls"][0]["names"])
    assert {"getpid", "socket", "execve", "exit_group", "write"} - allowed == {"socket"}  # socket: restricted below
    assert "unshare" not in allowed and "mount" not in allowed
    # the default profile's argument restrictions are kept
    socket_rules = [r for r in doc["syscalls"] if r["names"] == ["socket"]]
    assert socket_rules and all(r.get("args") for r in socket_rules)
    clone_rules = [r for r in doc["syscalls"] if r["names"] == ["clone"]]
    assert clone_rules and all(r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" for r in clone_rules)
    personality = [r for r in doc["syscalls"] if r["names"] == ["personality"]]
    assert personality and all(r.get("args") for r in personality)
    # it re-runs its workload successfully...
    p, res = sysx(workload[1:], "--security-opt", f"seccomp={profile}", user=as_user)
    assert res == {"getpid": "ok", "inet": "ok", "clone_thread": "ok", "personality_query": "ok"}
    # ...and refuses what the workload never did, including arguments the default profile refuses
    p, res = sysx(["getpid", "unshare", "mount", "vsock", "clone_newuser", "personality", "alg", "io_uring_setup"],
                  "--security-opt", f"seccomp={profile}", user=as_user)
    assert res["getpid"] == "ok"
    for name in ["unshare", "mount", "vsock", "clone_newuser", "personality", "alg"]:
        assert refused(res[name]), (name, res)
    # syscalls newer than anything the workload made but known to the base profile are EPERM, not ENOSYS:
    # io_uring_setup (425), openat2 (437), landlock_create_ruleset (444)
    assert res["io_uring_setup"] == "EPERM", res
    for nr in ("437", "444"):
        p, res = sysx(["raw", nr, "0"], "--security-opt", f"seccomp={profile}", user=as_user)
        assert res["raw-" + nr] == "EPERM", res
    # a syscall the base profile does not know still gets ENOSYS (file_getattr, 468, on x86_64)
    if os.uname().machine == "x86_64":
        p, res = sysx(["raw", "468", "-1"], "--security-opt", f"seccomp={profile}", user=as_user)
        assert res["raw-468"] == "ENOSYS", res
    # the profile is a valid Docker profile for hardrun's own tools too
    show = hardrun("seccomp", "show", str(profile))
    assert show.returncode == 0, show.stderr
    assert "(everything else)" in show.stdout


def test_recorded_shell_profile_refuses_new_behaviour(tmp_path):
    profile = tmp_path / "sh.json"
    rec = hardrun("seccomp", "record", "-o", str(profile), "--rootfs", ROOTFS, "--", "sh", "-c", "echo hello; ls / >/dev/null")
    assert rec.returncode == 0, rec.stderr
    ok = run(["--security-opt", f"seccomp={profile}", "--", "sh", "-c", "echo hello; ls / >/dev/null"], check=0)
    assert ok.stdout == "hello\n"
    p = run(["--security-opt", f"seccomp={profile}", "--", "sh", "-c", "mkdir /tmp/x && echo made"])
    assert p.returncode != 0 and "made" not in p.stdout
    assert "Operation not permitted" in p.stderr


def test_record_merge_grows_a_profile_over_several_runs(tmp_path):
    # issue 15 item 3: a profile recorded from one run breaks on a slightly different one; --merge grows it
    profile = tmp_path / "app.json"
    first = ["sh", "-c", "echo hello"]
    second = ["sh", "-c", "mkdir /tmp/x && echo made"]
    rec = hardrun("seccomp", "record", "-q", "-o", str(profile), "--rootfs", ROOTFS, "--", *first)
    assert rec.returncode == 0, rec.stderr
    p = run(["--security-opt", f"seccomp={profile}", "--", *second])
    assert p.returncode != 0 and "made" not in p.stdout  # the first run's profile refuses the second run
    before = {n for r in json.load(open(profile))["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    rec = hardrun("seccomp", "record", "-q", "--merge", str(profile), "-o", str(profile), "--rootfs", ROOTFS, "--", *second)
    assert rec.returncode == 0, rec.stderr
    doc = json.load(open(profile))
    after = {n for r in doc["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert before <= after and ("mkdir" in after or "mkdirat" in after), (before, after)
    # both runs work under the merged profile, and it still refuses what neither did
    assert run(["--security-opt", f"seccomp={profile}", "--", *first], check=0).stdout == "hello\n"
    assert run(["--security-opt", f"seccomp={profile}", "--", *second], check=0).stdout == "made\n"
    p, res = sysx(["unshare", "mount"], "--security-opt", f"seccomp={profile}")
    assert refused(res["unshare"]) and refused(res["mount"]), res
    # the comment lists every run it came from
    assert "seccomp record from: sh -c echo hello | sh -c mkdir /tmp/x && echo made." in doc["comment"], doc["comment"]
    # a file that is not a profile is refused with one line
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    rec = hardrun("seccomp", "record", "--merge", str(bad), "-o", str(tmp_path / "o.json"), "--rootfs", ROOTFS, "--", "true")
    assert rec.returncode == 125 and "--merge needs a profile in Docker's format" in rec.stderr, rec.stderr


def test_record_from_report_grows_a_profile_from_what_the_report_saw(tmp_path):
    # issue 15 item 3: a --report under a recorded profile says what it refused; --from-report adds that, without
    # a recording run, and only where the base profile (hardrun's default) allows it
    profile, report = tmp_path / "app.json", tmp_path / "r.json"
    second = ["sh", "-c", "mkdir /tmp/x && echo made"]
    rec = hardrun("seccomp", "record", "-q", "-o", str(profile), "--rootfs", ROOTFS, "--", "sh", "-c", "echo hello")
    assert rec.returncode == 0, rec.stderr
    for attempt in range(8):
        p = run(["--security-opt", f"seccomp={profile}", "--report", str(report), "--", *second], check=None)
        if p.stdout == "made\n":
            break
        denied = {d["syscall"] for d in json.load(open(report))["denied"]}
        assert denied, p.stderr  # it failed, so the report must name what was refused
        g = hardrun("seccomp", "record", "--from-report", str(report), "--merge", str(profile), "-o", str(profile))
        assert g.returncode == 0 and "nothing was run" in g.stderr, g.stderr
        allowed = {n for r in json.load(open(profile))["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
        assert denied <= allowed, (denied, allowed)
    assert p.stdout == "made\n", (attempt, p.stderr)
    assert attempt >= 1  # the recorded profile did refuse the second workload at first
    doc = json.load(open(profile))
    assert doc["comment"].count("the report " + str(report)) == attempt, doc["comment"]
    # it still refuses what the base profile refuses
    _, res = sysx(["unshare", "mount"], "--security-opt", f"seccomp={profile}")
    assert refused(res["unshare"]) and refused(res["mount"]), res
    # a report of what the base refuses too adds nothing, and says so by name
    base_report = tmp_path / "base.json"
    run(["--report", str(base_report), "--", "sysx", "mount", "clone_newuser"], check=None)
    assert {"mount", "clone"} <= {d["syscall"] for d in json.load(open(base_report))["denied"]}
    g = hardrun("seccomp", "record", "--from-report", str(base_report), "--merge", str(profile), "-o", str(tmp_path / "o.json"))
    assert g.returncode == 0, g.stderr
    assert "mount (x86_64) stays refused: the base profile" in g.stderr and "clone (x86_64) stays refused" in g.stderr, g.stderr
    _, res = sysx(["mount", "clone_newuser"], "--security-opt", f"seccomp={tmp_path / 'o.json'}")
    assert refused(res["mount"]) and refused(res["clone_newuser"]), res
    # without a command nothing runs, so a flag that needs a run is refused rather than ignored
    g = hardrun("seccomp", "record", "--from-report", str(report), "-o", str(tmp_path / "x.json"), "--rootfs", ROOTFS)
    assert g.returncode == 125 and "--rootfs: needs a workload to run" in g.stderr, g.stderr
    assert not (tmp_path / "x.json").exists()
    # a file that is no report
    g = hardrun("seccomp", "record", "--from-report", str(profile), "-o", str(tmp_path / "x.json"))
    assert g.returncode == 125 and "--from-report needs a report" in g.stderr, g.stderr


def test_strict_profile_serves_http_and_refuses_identity_changes():
    script = ("echo hi > /tmp/index.html; httpd -p 127.0.0.1:8080 -h /tmp && "
              "wget -qO- http://127.0.0.1:8080/index.html; sysx setuid packet inet vsock personality ptrace")
    p = run(["--security-opt", f"seccomp={PROFILES}/strict.json", "--", "sh", "-c", script], check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "hi"
    res = dict(line.split(" ", 1) for line in lines[1:])
    assert res == {"setuid": "EPERM", "packet": "EPERM", "inet": "ok", "vsock": "EPERM", "personality": "EPERM",
                   "ptrace": "EPERM"}


def test_malformed_profile_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},'
                   ' {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}')
    p = run(["--security-opt", f"seccomp={bad}", "--", "sh", "-c", "echo should-not-run"])
    assert p.returncode == 125
    assert "should-not-run" not in p.stdout
    assert (f"seccomp: {bad}: syscalls[1].args[0].op: 'SCMP_CMP_FOO' is not an operator" in p.stderr), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_unknown_syscall_name_warns_or_fails_with_strict_profile(tmp_path):
    base = json.load(open(os.path.join(PROFILES, "default.json")))
    base["syscalls"][0]["names"].append("frobnicate")
    prof = tmp_path / "unknown.json"
    prof.write_text(json.dumps(base))
    p = run(["--security-opt", f"seccomp={prof}", "--", "sh", "-c", "echo ran"], check=0)
    assert p.stdout == "ran\n"
    assert "unknown syscall 'frobnicate'" in p.stderr
    p = run(["--strict-profile", "--security-opt", f"seccomp={prof}", "--", "sh", "-c", "echo ran"])
    assert p.returncode == 125 and "ran" not in p.stdout
    assert "unknown syscall 'frobnicate' (--strict-profile)" in p.stderr


def test_compile_and_show(tmp_path):
    out = tmp_path / "default.bpf"
    p = hardrun("seccomp", "compile", "default", "-o", str(out))
    assert p.returncode == 0, p.stderr
    size = out.stat().st_size
    assert size > 0 and size % 8 == 0
    text = hardrun("seccomp", "compile", "default", "-o", "-", "--format", "text")
    assert text.returncode == 0
    assert "ret KILL_PROCESS" in text.stdout and "ret ERRNO(38)" in text.stdout
    assert len(text.stdout.splitlines()) == size // 8
    show = hardrun("seccomp", "show", os.path.join(DATA, "docker-default.json"))
    assert show.returncode == 0
    assert "architectures: x86_64, x86, x32" in show.stdout or os.uname().machine != "x86_64"
    rows = {line.split()[0]: line for line in show.stdout.splitlines() if line and not line.startswith(" ")}
    assert "ALLOW" in rows["ptrace"]        # Docker allows ptrace on kernels >= 4.8
    assert "ERRNO(ENOSYS)" in rows["clone3"]
    admin = hardrun("seccomp", "show", os.path.join(DATA, "docker-default.json"), "--cap-add", "SYS_ADMIN")
    assert any(line.startswith("mount ") and "ALLOW" in line for line in admin.stdout.splitlines())
    ours = hardrun("seccomp", "show", "default")
    assert not any(line.startswith("ptrace ") for line in ours.stdout.splitlines())
    cost = hardrun("seccomp", "show", "default", "--cost", "read,write,futex,getppid,socket:40")
    lines = cost.stdout.splitlines()
    assert [l.split()[0] for l in lines] == ["read", "write", "futex", "getppid", "socket:40"]
    for l in lines[:4]:
        assert l.split()[1] == "ALLOW" and 0 < int(l.split()[2]) <= 30
    assert lines[4].split()[1] == "ERRNO(EPERM)"
    x86 = hardrun("seccomp", "show", "default", "--arch", "x86", "--cost", "getpid")
    assert x86.stdout.split()[1] == "KILL_PROCESS"


@pytest.mark.skipif(os.geteuid() != 0, reason="reading a loaded filter needs CAP_SYS_ADMIN")
def test_the_kernel_runs_exactly_the_compiled_program(tmp_path):
    """`seccomp compile` exports byte for byte what the workload is confined by (read back from the kernel)."""
    dump = os.path.join(HELPERS, "bench_bpfdump")
    if not os.access(dump, os.X_OK):
        pytest.skip("bench_bpfdump helper not built")
    compiled = tmp_path / "default.bpf"
    assert hardrun("seccomp", "compile", "default", "-o", str(compiled)).returncode == 0
    p = subprocess.Popen([HARDRUN, "run", "--rootfs", ROOTFS, "--", "sh", "-c", "echo up; exec sleep 60"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert p.stdout.readline().strip() == "up"
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            child = int(f.read().split()[0])
        out = subprocess.run([dump, str(child), str(tmp_path / "loaded")], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["0", str(compiled.stat().st_size // 8)]  # one filter: ours
        assert (tmp_path / "loaded.0.bpf").read_bytes() == compiled.read_bytes()
    finally:
        p.kill()  # the sandbox dies with hardrun (sleep is PID 1 of its namespace and ignores SIGTERM)
        p.wait(timeout=30)
