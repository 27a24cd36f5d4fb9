"""Load: 1000 sequential and 50x20 concurrent launches all succeed and leave nothing behind (mounts, processes,
cgroups, fds), and hardrun's supervisor does not leak: every launch's workload waits (on its stdin) while the
test reads the hardrun process's own /proc/PID/status (VmHWM, VmRSS) and counts /proc/PID/fd; the first 10% of
the launches are compared with the last 10% (leak_problems: no fd more, and less memory growth than a leak of
1 KiB per launch would cause). test_the_leak_check_catches_a_leaking_supervisor proves the comparison fails on a
stand-in supervisor that leaks one fd and 1 KiB per launch. A long-lived supervisor does not grow while it
forwards signals.

The figures are printed and appended to $HARDRUN_BUILD/load-figures.txt (scripts/test sets HARDRUN_BUILD).
HARDRUN_LOAD_SEQUENTIAL and HARDRUN_LOAD_CONCURRENT (WORKERSxEACH) scale the runs (tests/sanitize.sh runs them
smaller; the comparison is always within one run, so an ASan build is compared with itself).
"""
import concurrent.futures
import os
import signal
import statistics
import subprocess
import time

import pytest

from conftest import HARDRUN, ROOTFS, UNPRIV_UID, mountinfo

SEQUENTIAL = int(os.environ.get("HARDRUN_LOAD_SEQUENTIAL", "1000"))
WORKERS, EACH = (int(x) for x in os.environ.get("HARDRUN_LOAD_CONCURRENT", "50x20").split("x"))


def figure(text):
    if os.environ.get("HARDRUN_SANITIZED"):
        text = "[ASan+UBSan build] " + text
    print(text)
    path = os.path.join(os.environ.get("HARDRUN_BUILD", "/tmp"), "load-figures.txt")
    try:
        with open(path, "a") as f:
            f.write(time.strftime("%F %T ") + text + "\n")
    except OSError:
        pass


def cmd(args, user=None, binary=None):
    # setarch -R (no address space randomization, exec'd in place: the pid stays hardrun's) makes the supervisor's
    # memory the same from launch to launch: under ASan it otherwise varies by +-200 KiB with the layout
    c = ["setarch", "-R", binary or HARDRUN, "run", "--rootfs", ROOTFS, "-q"] + args
    if user is not None:
        c = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + c
    return c


def supervisor_usage(pid):
    """(open fds, VmHWM KiB, VmRSS KiB) of a running hardrun supervisor (read as root: it is not dumpable)."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fds, int(fields["VmHWM"][0]), int(fields["VmRSS"][0])


RT_SIGTIMEDWAIT = 128  # x86_64


def settled(pid, limit=30.0):
    """Waits until the supervisor sits in its wait loop for good: blocked in a system call, and not in the timed
    wait after which it gives back its start-up memory (launch.cpp: a workload still running after 50 ms). Every
    sample is then taken in the same state, whatever the scheduling (the limit only guards against a hang)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                fields = f.read().split()
        except OSError:
            return False
        if fields and fields[0].isdigit():
            if int(fields[0]) != RT_SIGTIMEDWAIT or int(fields[3], 16) == 0:  # its timeout argument: none
                return True
        time.sleep(0.002)
    return False


def launch(i, user=None, binary=None, sample=False):
    """One launch whose workload prints i. With sample, the workload then waits for its stdin to close and, while
    it waits, the supervisor (the hardrun process itself: setpriv execs it) is measured once settled().
    Returns (rc, stdout, stderr, wall seconds, (fds, VmHWM, VmRSS) or None)."""
    t0 = time.monotonic()
    script = f"echo {i}; read x; exit 0" if sample else f"echo {i}"
    p = subprocess.Popen(cmd(["--", "sh", "-c", script], user, binary),
                         stdin=subprocess.PIPE if sample else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first, usage = b"", None
    if sample:
        first = p.stdout.readline()
        if first.strip() == str(i).encode() and settled(p.pid):
            try:
                usage = supervisor_usage(p.pid)
            except (OSError, KeyError, IndexError):
                pass  # the supervisor was already gone: reported as a failure by the caller
    out, err = p.communicate(timeout=60)  # closes the workload's stdin: it exits
    return p.returncode, (first + out).decode(), err.decode(), time.monotonic() - t0, usage


# The smallest memory leak the comparison must catch: 1 KiB per launch. A launch is a process of its own, so a
# leak shows up as creep of what the same work costs from the first launches to the last (state kept across
# launches: files read at start-up, caches, state directories), or as an fd that is never closed.
LEAK_KIB_PER_LAUNCH = 1
MIN_SLACK_KIB = 16  # page granularity: a few 4 KiB pages either way are noise, not a leak


def window(n):
    """How many launches are sampled at each end of a loop of n (each sampled launch lasts >= 50 ms)."""
    return min(20, max(1, n // 10))


def leak_problems(first, last, between, what):
    """first, last: (fds, VmHWM, VmRSS) samples of the supervisor at the start and at the end of a loop, `between`
    launches apart. fds may not grow at all (medians), memory by at most half of what a leak of
    LEAK_KIB_PER_LAUNCH would add over `between` launches. Returns the problems found (empty: no leak)."""
    slack = max(MIN_SLACK_KIB, LEAK_KIB_PER_LAUNCH * between / 2)
    problems = []
    for k, name, limit in ((0, "open fds", 0), (1, "VmHWM KiB", slack), (2, "VmRSS KiB", slack)):
        a = statistics.median(s[k] for s in first)
        b = statistics.median(s[k] for s in last)
        if b - a > limit:
            problems.append(f"{what}: the supervisor's {name} grew from {a:g} (median of {len(first)} samples at "
                            f"the start) to {b:g} ({len(last)} at the end, {between} launches later), more than "
                            f"the {limit:g} allowed")
    return problems


def usage_text(first, last):
    med = lambda rows, k: statistics.median(s[k] for s in rows) if rows else float("nan")  # noqa: E731
    return (f"supervisor while the workload runs (medians, {len(first)} first/{len(last)} last launches): "
            f"fds {med(first, 0):g} -> {med(last, 0):g}, VmHWM {med(first, 1):g} -> {med(last, 1):g} KiB, "
            f"VmRSS {med(first, 2):g} -> {med(last, 2):g} KiB")


def sequential(n, user=None, binary=None):
    """n launches one after the other, the first and last window(n) sampled.
    Returns (failures, walls, first samples, last samples, launches between the windows)."""
    w = window(n)
    walls, first, last, failures = [], [], [], []
    # a warm-up launch, not counted: the first run of a code path maps fewer pages of the binary (the kernel maps
    # neighbouring pages only once they are in the page cache), which would look like growth afterwards
    launch(-1, user, binary, sample=True)
    for i in range(n):
        sampled = i < w or i >= n - w
        rc, out, err, wall, usage = launch(i, user, binary, sample=sampled)
        if rc != 0 or out.strip() != str(i) or (sampled and usage is None):
            failures.append((i, rc, out, err))
        walls.append(wall)
        if usage is not None:
            (first if i < w else last).append(usage)
    return failures, walls, first, last, n - w


def host_state():
    mounts = sorted(line.split()[4] for line in mountinfo().splitlines())
    procs = []
    binary = os.path.realpath(HARDRUN)
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink(f"/proc/{pid}/exe") == binary:
                procs.append(int(pid))
        except OSError:
            pass
    cgroups = set()
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.isdir(root):
            for dirpath, dirnames, _ in os.walk(root):
                cgroups.update(os.path.join(dirpath, d) for d in dirnames if "hardrun" in d)
                if dirpath.count("/") > 6:
                    dirnames[:] = []
    return mounts, procs, cgroups, len(os.listdir("/proc/self/fd"))


def settle(before):
    """Processes finish asynchronously after the last wait: poll (the limit only guards against a hang)."""
    deadline = time.monotonic() + 30
    state = host_state()
    while state[1] and time.monotonic() < deadline:
        time.sleep(0.05)
        state = host_state()
    return state


def file_nr():
    return int(open("/proc/sys/fs/file-nr").read().split()[0])


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the (non-dumpable) supervisor's /proc entries")
@pytest.mark.parametrize("who", ["root", "rootless"])
def test_sequential_launches(who):
    user = None if who == "root" else UNPRIV_UID
    n = SEQUENTIAL if who == "root" else max(1, SEQUENTIAL // 5)
    before = host_state()
    files_before = file_nr()
    failures, walls, first, last, between = sequential(n, user)
    after = settle(before)
    assert not failures, failures[:3]
    assert after[0] == before[0], "host mounts changed"
    assert after[1] == [], f"hardrun processes left: {after[1]}"
    assert after[2] == before[2], "cgroups left behind"
    assert after[3] == before[3], "the test itself leaked fds"
    figure(f"load {who}: {n} sequential launches, all ok; wall median {statistics.median(walls) * 1000:.1f} ms, "
           f"p99 {sorted(walls)[int(n * 0.99) - 1] * 1000:.1f} ms; {usage_text(first, last)}; "
           f"host open files {files_before} -> {file_nr()}")
    problems = leak_problems(first, last, between, f"{n} sequential launches ({who})")
    assert not problems, problems


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the (non-dumpable) supervisor's /proc entries")
def test_concurrent_launches():
    before = host_state()
    files_before = file_nr()
    first, last = [], []  # every worker's first and last launch is sampled (list.append is atomic)

    def worker(w):
        bad = []
        for j in range(EACH):
            sampled = j in (0, EACH - 1)
            rc, out, err, wall, usage = launch(f"{w}-{j}", sample=sampled)
            if rc != 0 or out.strip() != f"{w}-{j}" or (sampled and usage is None):
                bad.append((w, j, rc, err))
            elif usage is not None:
                (first if j == 0 else last).append(usage)
        return bad

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(worker, range(WORKERS)))
    elapsed = time.monotonic() - t0
    failures = [f for r in results for f in r]
    after = settle(before)
    figure(f"load: {WORKERS}x{EACH} concurrent launches, {WORKERS * EACH - len(failures)} ok, "
           f"{len(failures)} failed, {elapsed:.1f} s ({WORKERS * EACH / elapsed:.0f} launches/s); "
           f"{usage_text(first, last)}; host open files {files_before} -> {file_nr()}")
    assert not failures, failures[:3]
    assert after[0] == before[0], "host mounts changed"
    assert after[1] == [], f"hardrun processes left: {after[1]}"
    assert after[2] == before[2], "cgroups left behind"
    assert after[3] == before[3], "the test itself leaked fds"
    # between a worker's first and last launch, the others made theirs: (EACH - 1) launches each
    problems = leak_problems(first, last, WORKERS * (EACH - 1), f"{WORKERS}x{EACH} concurrent launches")
    assert not problems, problems


# The leak check itself (a check that cannot fail is no check): a stand-in "hardrun" (a Python script taking the
# same arguments) supervises the same workload through the same sequential() loop and comparison, keeping a
# launch counter in a file; the leaky one holds one more fd and LEAK_KIB_PER_LAUNCH more KiB for every earlier
# launch, the honest one nothing. The comparison must flag the first and pass the second.
FAKE_HARDRUN = """#!/usr/bin/env -S PYTHONHASHSEED=0 /usr/bin/python3 -I
import mmap, os, sys
state = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launches")
n = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(n + 1))
leak = int(sys.argv[0].endswith("leaky"))
held = [os.open("/dev/null", os.O_RDONLY) for _ in range(n * leak)]
size = n * leak * {kib} * 1024
if size:  # fresh pages, written: the heap may have room to spare, an mmap does not
    ballast = mmap.mmap(-1, size)
    ballast.write(b"x" * size)
argv = sys.argv[sys.argv.index("--") + 1:]
pid = os.posix_spawnp(argv[0], argv, os.environ)  # no pipe of its own left open while the workload runs
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the stand-in's /proc entries like the real ones")
@pytest.mark.parametrize("kind", ["leaky", "honest"])
def test_the_leak_check_catches_a_leaking_supervisor(tmp_path, kind):
    fake = tmp_path / f"hardrun-{kind}"
    fake.write_text(FAKE_HARDRUN.format(kib=LEAK_KIB_PER_LAUNCH))
    fake.chmod(0o755)
    failures, _, first, last, between = sequential(40, binary=str(fake))
    assert not failures, failures[:3]
    problems = leak_problems(first, last, between, f"{kind} stand-in")
    print(usage_text(first, last), problems)
    if kind == "leaky":
        assert any("open fds" in p for p in problems), problems
        assert any("VmRSS" in p for p in problems), problems
    else:
        assert not problems, problems
    # the comparison alone at the full loop's size: 1 KiB or 1 fd per launch over 1000 launches is caught, a flat
    # series is not
    def loop(n, sample):
        w = window(n)
        return [sample(i) for i in range(w)], [sample(i) for i in range(n - w, n)], n - w

    assert not leak_problems(*loop(1000, lambda i: (5, 3700, 880)), "flat")
    assert leak_problems(*loop(1000, lambda i: (5, 3700 + i, 880)), "1 KiB per launch (VmHWM)")
    assert leak_problems(*loop(1000, lambda i: (5, 3700, 880 + i)), "1 KiB per launch (VmRSS)")
    assert leak_problems(*loop(1000, lambda i: (5 + i, 3700, 880)), "1 fd per launch")
    assert leak_problems(*loop(200, lambda i: (5, 3700, 880 + i)), "1 KiB per launch over the ASan run's 200")


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the (non-dumpable) supervisor's /proc entries")
def test_long_lived_supervisor_does_not_grow():
    # a workload that receives 2000 forwarded signals: the supervisor's fds and memory stay where they were
    script = "trap 'n=$((n+1))' USR1; trap 'exit 0' TERM; n=0; echo ready; while :; do sleep 1; done"
    p = subprocess.Popen(cmd(["--", "sh", "-c", script]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        fds0, _, rss0 = supervisor_usage(p.pid)
        for _ in range(2000):
            os.kill(p.pid, signal.SIGUSR1)
            time.sleep(0.0005)
        fds1, _, rss1 = supervisor_usage(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    figure(f"load: long-lived supervisor after 2000 forwarded signals: fds {fds0} -> {fds1}, "
           f"VmRSS {rss0} -> {rss1} KiB")
    assert fds1 == fds0
    assert rss1 <= rss0 + 256
