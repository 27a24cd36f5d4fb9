"""Load: 1000 sequential and 50x20 concurrent launches all succeed and leave nothing behind (mounts, processes,
cgroups, fds); hardrun's own memory stays flat from the first launches to the last, and a long-lived
supervisor does not grow while it forwards signals.

The figures are printed and appended to $HARDRUN_BUILD/load-figures.txt (scripts/test sets HARDRUN_BUILD).
HARDRUN_LOAD_SEQUENTIAL and HARDRUN_LOAD_CONCURRENT (WORKERSxEACH) scale the runs.
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


def cmd(args, user=None):
    c = [HARDRUN, "run", "--rootfs", ROOTFS, "-q"] + args
    if user is not None:
        c = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + c
    return c


def launch_rusage(args, user=None):
    """Like launch() but with the rusage of the hardrun process (os.wait4)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd(args, user), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    p.stderr.close()
    return p.returncode, out.decode(), err.decode(), time.monotonic() - t0, ru.ru_maxrss


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


@pytest.mark.parametrize("who", ["root", "rootless"])
def test_sequential_launches(who):
    user = None if who == "root" else UNPRIV_UID
    n = SEQUENTIAL if who == "root" else max(1, SEQUENTIAL // 5)
    before = host_state()
    files_before = file_nr()
    walls, rss, failures = [], [], []
    for i in range(n):
        rc, out, err, wall, maxrss = launch_rusage(["--", "sh", "-c", f"echo {i}"], user)
        if rc != 0 or out.strip() != str(i):
            failures.append((i, rc, out, err))
        walls.append(wall)
        rss.append(maxrss)
    after = settle(before)
    assert not failures, failures[:3]
    assert after[0] == before[0], "host mounts changed"
    assert after[1] == [], f"hardrun processes left: {after[1]}"
    assert after[2] == before[2], "cgroups left behind"
    assert after[3] == before[3], "the test itself leaked fds"
    first, last = rss[: n // 10 or 1], rss[-(n // 10 or 1):]
    figure(f"load {who}: {n} sequential launches, all ok; wall median {statistics.median(walls) * 1000:.1f} ms, "
           f"p99 {sorted(walls)[int(n * 0.99) - 1] * 1000:.1f} ms; max RSS first 10% median "
           f"{statistics.median(first)} KiB, last 10% {statistics.median(last)} KiB; "
           f"host open files {files_before} -> {file_nr()}")
    # hardrun does not grow from launch to launch (each is its own process: a leak would show as creep in
    # what the kernel reports for the same work); 1 MiB slack for page-granular noise
    assert statistics.median(last) <= statistics.median(first) + 1024


def test_concurrent_launches():
    before = host_state()

    def worker(w):
        bad = []
        for j in range(EACH):
            rc, out, err, wall, _ = launch_rusage(["--", "sh", "-c", f"echo {w}-{j}"])
            if rc != 0 or out.strip() != f"{w}-{j}":
                bad.append((w, j, rc, err))
        return bad

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(worker, range(WORKERS)))
    elapsed = time.monotonic() - t0
    failures = [f for r in results for f in r]
    after = settle(before)
    figure(f"load: {WORKERS}x{EACH} concurrent launches, {WORKERS * EACH - len(failures)} ok, "
           f"{len(failures)} failed, {elapsed:.1f} s ({WORKERS * EACH / elapsed:.0f} launches/s)")
    assert not failures, failures[:3]
    assert after[0] == before[0], "host mounts changed"
    assert after[1] == [], f"hardrun processes left: {after[1]}"
    assert after[2] == before[2], "cgroups left behind"


def supervisor_usage(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return fds, rss


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the (non-dumpable) supervisor's /proc entries")
def test_long_lived_supervisor_does_not_grow():
    # a workload that receives 2000 forwarded signals: the supervisor's fds and memory stay where they were
    script = "trap 'n=$((n+1))' USR1; trap 'exit 0' TERM; n=0; echo ready; while :; do sleep 1; done"
    p = subprocess.Popen(cmd(["--", "sh", "-c", script]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        fds0, rss0 = supervisor_usage(p.pid)
        for _ in range(2000):
            os.kill(p.pid, signal.SIGUSR1)
            time.sleep(0.0005)
        fds1, rss1 = supervisor_usage(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    figure(f"load: long-lived supervisor after 2000 forwarded signals: fds {fds0} -> {fds1}, "
           f"VmRSS {rss0} -> {rss1} KiB")
    assert fds1 == fds0
    assert rss1 <= rss0 + 256
