"""Performance features must not weaken anything (docs/performance.md). No timing is asserted here: the
numbers live in scripts/bench.

* the seccomp filter cache: a workload launched from a cached program is confined by exactly the program
  a fresh compile produces (read back from the running workload with PTRACE_SECCOMP_GET_FILTER), and an
  entry someone else could have written is not used;
* the supervisor of a long-running workload gives its start-up memory back, and still supervises.
The forged-entry test ends with a control: the same entry, private to root, is used, so the refusal above
it comes from the permission check and not from a malformed entry.
"""
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import HARDRUN, HELPERS, ROOTFS, status_fields

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reads the workload's filter with ptrace: needs root")

BPFDUMP = os.path.join(HELPERS, "bench_bpfdump")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def start_sleeper(env, extra=()):
    """hardrun run ... -- sleep 30; returns (hardrun Popen, workload pid)."""
    p = subprocess.Popen([HARDRUN, "run", "--rootfs", ROOTFS, *extra, "--", "/bin/sleep", "30"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        kids = children(p.pid)
        if kids:
            try:
                with open(f"/proc/{kids[0]}/comm") as f:
                    if f.read().strip() == "sleep":
                        return p, kids[0]
            except OSError:
                pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    pytest.fail(f"the workload did not start: {p.communicate()[1]}")


def stop(p, workload):
    os.kill(workload, signal.SIGKILL)  # the sleep we started; hardrun then exits with 137
    p.wait(timeout=30)


def filter_of(pid, tmp):
    prefix = os.path.join(tmp, f"f{pid}")
    r = subprocess.run([BPFDUMP, str(pid), prefix], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    with open(prefix + ".0.bpf", "rb") as f:
        return f.read()


def env_with(**kw):
    e = dict(os.environ)
    e.pop("HARDRUN_CACHE", None)
    e.update(kw)
    return e


@pytest.fixture
def cache_dir():
    d = tempfile.mkdtemp(prefix="hardrun-cache-")
    yield os.path.join(d, "cache")
    subprocess.run(["rm", "-rf", d])


def test_cached_filter_is_the_compiled_one(cache_dir, tmp_path):
    assert os.access(BPFDUMP, os.X_OK), f"{BPFDUMP} is built with the tests (tests/CMakeLists.txt)"
    fresh_env = env_with(HARDRUN_CACHE="off")
    cached_env = env_with(HARDRUN_CACHE_DIR=cache_dir)

    p, w = start_sleeper(fresh_env)
    fresh = filter_of(w, tmp_path)
    stop(p, w)
    assert not os.path.exists(cache_dir), "HARDRUN_CACHE=off must not write a cache"

    p, w = start_sleeper(cached_env)  # compiles and stores
    stop(p, w)
    entries = os.listdir(cache_dir)
    assert len(entries) == 1, entries
    assert os.stat(cache_dir).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(cache_dir, entries[0])).st_mode & 0o777 == 0o600

    p, w = start_sleeper(cached_env)  # from the cache
    with open(f"/proc/{w}/status") as f:
        st = status_fields(f.read())
    cached = filter_of(w, tmp_path)
    stop(p, w)
    assert st["Seccomp"] == "2" and st["Seccomp_filters"] == "1", st
    assert cached == fresh, "the program loaded from the cache differs from a fresh compile"
    assert len(fresh) > 8 * 100, "the default profile compiles to hundreds of instructions"

    # a different profile is a different entry, never the default's program
    p, w = start_sleeper(cached_env, ["--security-opt", "seccomp=unconfined"])
    with open(f"/proc/{w}/status") as f:
        assert status_fields(f.read())["Seccomp"] == "0"
    stop(p, w)


def test_cache_entry_others_can_write_is_not_used(cache_dir, tmp_path):
    assert os.access(BPFDUMP, os.X_OK), f"{BPFDUMP} is built with the tests (tests/CMakeLists.txt)"
    env = env_with(HARDRUN_CACHE_DIR=cache_dir)
    p, w = start_sleeper(env)
    good = filter_of(w, tmp_path)
    stop(p, w)
    (entry,) = os.listdir(cache_dir)
    path = os.path.join(cache_dir, entry)
    # an attacker with write access swaps in an entry whose program allows everything: same key, other value
    with open(path, "rb") as f:
        data = f.read()
    allow_all = bytes([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f])  # BPF_RET|BPF_K SECCOMP_RET_ALLOW
    magic_len = len(b"hardrun filter cache 1\n")
    key_len = int.from_bytes(data[magic_len:magic_len + 8], "little")
    value_off = magic_len + 8 + key_len
    value_len = int.from_bytes(data[value_off:value_off + 8], "little")
    value = data[value_off + 8:value_off + 8 + value_len]
    prog_len = int.from_bytes(value[:8], "little")
    forged_value = len(allow_all).to_bytes(8, "little") + allow_all + value[8 + prog_len:]
    forged = data[:value_off] + len(forged_value).to_bytes(8, "little") + forged_value
    with open(path, "wb") as f:
        f.write(forged)
    os.chmod(path, 0o666)  # ... but it is writable by others, so it must not be trusted
    p, w = start_sleeper(env)
    loaded = filter_of(w, tmp_path)
    stop(p, w)
    assert loaded == good, "an entry others can write was used"
    # control: the same forged entry, owned by root and private, is used (the cache trusts root's own
    # directory: that is why it lives where only root can write)
    with open(path, "wb") as f:
        f.write(forged)
    os.chmod(path, 0o600)
    p, w = start_sleeper(env)
    loaded = filter_of(w, tmp_path)
    stop(p, w)
    assert loaded == allow_all


def test_supervisor_gives_back_startup_memory_and_still_supervises():
    p, w = start_sleeper(dict(os.environ))
    deadline = time.monotonic() + 20
    st = {}
    while time.monotonic() < deadline:
        with open(f"/proc/{p.pid}/status") as f:
            st = status_fields(f.read())
        rss, hwm = int(st["VmRSS"].split()[0]), int(st["VmHWM"].split()[0])
        if rss < hwm * 3 // 4:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the supervisor kept its start-up pages while the workload runs: {st}")
    # it still supervises: the workload's end is seen and reported
    os.kill(w, signal.SIGKILL)
    assert p.wait(timeout=30) == 128 + signal.SIGKILL
