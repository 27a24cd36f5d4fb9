#!/usr/bin/env python3
"""Helpers for scripts/bench (stdlib only). Subcommands:

  bpfcount FILTER.bpf...          instructions a seccomp BPF program runs for the hot syscalls (JSON)
  docker2oci PROFILE CAPS         Docker seccomp profile -> OCI linux.seccomp for x86_64, no capabilities
  throughput OUT.json NAME C N -- CMD...   C concurrent launchers, N launches in all ({id} in CMD = unique)
  footprint OUT.json NAME WORKLOAD_COMM -- CMD...   peak RSS of the launcher's processes while the workload runs
  merge-latency OUT.json ROUND.json...   merges hyperfine exports (rounds) into one list of runs per command
  report DIR                      results.json, results.md and chart data from the raw files in DIR
"""
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time

# ------------------------------------------------------------------------------------------------
# seccomp BPF: a small interpreter of classic BPF as the kernel runs it for seccomp, counting the
# instructions executed, and the kernel's "constant action" emulation (since Linux 5.11 a syscall whose
# verdict is ALLOW whatever its arguments is answered from a bitmap and the filter is not run at all).
# ------------------------------------------------------------------------------------------------
AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ACTION_FULL = 0xFFFF0000
ACTIONS = {0x80000000: "KILL_PROCESS", 0x00000000: "KILL_THREAD", 0x00030000: "TRAP", 0x00050000: "ERRNO",
           0x7FC00000: "USER_NOTIF", 0x7FF00000: "TRACE", 0x7FFC0000: "LOG", 0x7FFF0000: "ALLOW"}

# x86_64 numbers and typical arguments of the syscalls a busy workload makes most
HOT = [  # name, nr, args
    ("read", 0, [3, 0x7FFC0000, 4096]),
    ("write", 1, [1, 0x7FFC0000, 64]),
    ("futex", 202, [0x7F0000001000, 129, 1]),  # FUTEX_WAKE_PRIVATE
    ("getppid", 110, []),
]
OTHER = [
    ("openat", 257, [0xFFFFFF9C, 0x7FFC0000, 0x80000]),
    ("close", 3, [3]),
    ("mmap", 9, [0, 4096, 3, 0x22, 0xFFFFFFFF, 0]),
    ("newfstatat", 262, [3, 0x7FFC0000, 0x7FFC1000, 0x1000]),
    ("epoll_wait", 232, [4, 0x7FFC0000, 64, 0xFFFFFFFF]),
    ("recvfrom", 45, [5, 0x7FFC0000, 4096, 0]),
    ("sendto", 44, [5, 0x7FFC0000, 64, 0]),
    ("clock_nanosleep", 230, [1, 0, 0x7FFC0000, 0]),
    ("getpid", 39, []),
    ("brk", 12, [0]),
]


def load_bpf(path):
    raw = open(path, "rb").read()
    return [struct.unpack_from("<HBBI", raw, i) for i in range(0, len(raw) - len(raw) % 8, 8)]


def seccomp_data(nr, arch, args, ip=0x401000):
    args = (list(args) + [0] * 6)[:6]
    return struct.pack("<iIQ6Q", nr, arch, ip, *[a & 0xFFFFFFFFFFFFFFFF for a in args])


def run_bpf(prog, data):
    """Returns (return value, instructions executed)."""
    A = X = 0
    mem = [0] * 16
    pc = steps = 0
    while pc < len(prog):
        code, jt, jf, k = prog[pc]
        steps += 1
        cls = code & 0x07
        if cls == 0x00 or cls == 0x01:  # LD / LDX
            mode = code & 0xE0
            if mode == 0x00: v = k
            elif mode == 0x20: v = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x60: v = mem[k & 15]
            elif mode == 0x80: v = len(data)
            else: raise ValueError(f"unsupported load {code:#x} at {pc}")
            if cls == 0x00: A = v
            else: X = v
        elif cls == 0x02: mem[k & 15] = A
        elif cls == 0x03: mem[k & 15] = X
        elif cls == 0x04:  # ALU
            op, src = code & 0xF0, (X if code & 0x08 else k)
            A = {0x00: lambda: A + src, 0x10: lambda: A - src, 0x20: lambda: A * src,
                 0x30: lambda: A // src if src else 0, 0x40: lambda: A | src, 0x50: lambda: A & src,
                 0x60: lambda: A << (src & 31), 0x70: lambda: A >> (src & 31), 0x80: lambda: -A,
                 0x90: lambda: A % src if src else 0, 0xA0: lambda: A ^ src}[op]() & 0xFFFFFFFF
        elif cls == 0x05:  # JMP
            op, src = code & 0xF0, (X if code & 0x08 else k)
            if op == 0x00:
                pc += 1 + k
                continue
            cond = {0x10: A == src, 0x20: A > src, 0x30: A >= src, 0x40: (A & src) != 0}[op]
            pc += 1 + (jt if cond else jf)
            continue
        elif cls == 0x06:  # RET
            return (A if (code & 0x18) == 0x10 else k), steps
        elif cls == 0x07:
            if code & 0xF8 == 0x00: X = A
            else: A = X
        pc += 1
    raise ValueError("fell off the end of the program")


def const_allow(prog, nr, arch):
    """The kernel's seccomp_is_const_allow(): True when the verdict for (nr, arch) is ALLOW without
    looking at anything else (then the filter is skipped at run time)."""
    A = 0
    pc = 0
    while pc < len(prog):
        code, jt, jf, k = prog[pc]
        if code == 0x20:  # LD W ABS
            if k == 0: A = nr
            elif k == 4: A = arch
            else: return False
        elif code in (0x05, 0x15, 0x25, 0x35, 0x45):  # JA, JEQ/JGT/JGE/JSET K
            if code == 0x05:
                pc += 1 + k
                continue
            cond = {0x15: A == k, 0x25: A > k, 0x35: A >= k, 0x45: (A & k) != 0}[code]
            pc += 1 + (jt if cond else jf)
            continue
        elif code == 0x54: A &= k  # ALU AND K
        elif code == 0x06: return k == SECCOMP_RET_ALLOW  # RET K
        else: return False
        pc += 1
    return False


def action_name(ret):
    act = ret & SECCOMP_RET_ACTION_FULL
    name = ACTIONS.get(act, f"{act:#x}")
    return f"ERRNO({ret & 0xFFFF})" if name == "ERRNO" else name


def cmd_bpfcount(paths):
    out = {}
    for path in paths:
        prog = load_bpf(path)
        res = {"instructions_total": len(prog), "syscalls": {}}
        for group, table in (("hot", HOT), ("other", OTHER)):
            for name, nr, args in table:
                ret, steps = run_bpf(prog, seccomp_data(nr, AUDIT_ARCH_X86_64, args))
                res["syscalls"][name] = {"group": group, "executed": steps, "action": action_name(ret),
                                         "kernel_cache": const_allow(prog, nr, AUDIT_ARCH_X86_64)}
        counts = []
        for nr in range(0, 462):
            try:
                counts.append(run_bpf(prog, seccomp_data(nr, AUDIT_ARCH_X86_64, []))[1])
            except (ValueError, KeyError, struct.error):
                pass
        res["mean_all_syscalls"] = round(statistics.mean(counts), 1) if counts else None
        res["max_all_syscalls"] = max(counts) if counts else None
        out[path] = res
    json.dump(out, sys.stdout, indent=1)
    print()


# ------------------------------------------------------------------------------------------------
# Docker profile -> the OCI seccomp object Docker would hand to runc/crun for an amd64 container
# with the given capabilities (none for the benchmark).
# ------------------------------------------------------------------------------------------------
def kernel_at_least(want):
    have = [int(x) for x in os.uname().release.split("-")[0].split(".")[:2]]
    need = [int(x) for x in want.split(".")[:2]]
    return have >= need


def cmd_docker2oci(path, caps):
    prof = json.load(open(path))
    caps = set(c for c in caps.split(",") if c)
    arches = []
    for m in prof.get("archMap", []):
        if m["architecture"] == "SCMP_ARCH_X86_64":
            arches = [m["architecture"]] + m.get("subArchitectures", [])
    out = {"defaultAction": prof["defaultAction"], "architectures": arches or ["SCMP_ARCH_X86_64"], "syscalls": []}
    if "defaultErrnoRet" in prof:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    for rule in prof.get("syscalls", []):
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("arches") and "amd64" not in inc["arches"]: continue
        if exc.get("arches") and "amd64" in exc["arches"]: continue
        if inc.get("caps") and not set(inc["caps"]) <= caps: continue
        if exc.get("caps") and set(exc["caps"]) & caps: continue
        if inc.get("minKernel") and not kernel_at_least(inc["minKernel"]): continue
        names = rule.get("names") or ([rule["name"]] if "name" in rule else [])
        r = {"names": names, "action": rule["action"]}
        for key in ("errnoRet", "args"):
            if key in rule and rule[key] is not None:
                r[key] = rule[key]
        out["syscalls"].append(r)
    json.dump(out, sys.stdout)
    print()


# ------------------------------------------------------------------------------------------------
# throughput: C threads, each running its share of N launches back to back
# ------------------------------------------------------------------------------------------------
def cmd_throughput(outfile, name, conc, total, cmd):
    conc, total = int(conc), int(total)
    per = max(1, total // conc)
    failures = []

    # posix_spawn + waitpid: the driver's own cost per launch stays small next to the launchers'
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    exe = shutil.which(cmd[0]) or cmd[0]

    def worker(w):
        for i in range(per):
            argv = [a.replace("{id}", f"b{os.getpid()}-{w}-{i}") for a in cmd]
            pid = os.posix_spawn(exe, argv, os.environ, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            if status != 0:  # run it once more to show why
                r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                failures.append(r.stderr.decode(errors="replace").strip()[-300:] or f"wait status {status}")
                return

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(conc)]
    t0 = time.monotonic()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.monotonic() - t0
    res = {"name": name, "concurrency": conc, "launches": per * conc, "wall_s": wall,
           "per_s": per * conc / wall if not failures else None, "error": failures[0] if failures else None}
    append_json(outfile, res)
    if failures:
        print(f"throughput {name} x{conc}: FAILED: {failures[0]}", file=sys.stderr)
        return 1
    print(f"throughput {name} x{conc}: {res['per_s']:.1f} launches/s", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------
# footprint: the launcher's processes (everything in the tree but the workload) while the workload runs
# ------------------------------------------------------------------------------------------------
def proc_status(pid):
    out = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    except OSError:
        return None
    return out


def kib(st, key):
    v = st.get(key, "0 kB").split()
    return int(v[0]) if v else 0


def children(pid):
    try:
        kids = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            kids += [int(x) for x in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        return kids
    except OSError:
        return []


def find_process(comm, started_after):
    """A process named comm that started after the given boot-time tick (a daemonized monitor)."""
    for d in os.listdir("/proc"):
        if not d.isdigit(): continue
        try:
            if open(f"/proc/{d}/comm").read().strip() != comm: continue
            if int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[19]) >= started_after:
                return int(d)
        except (OSError, ValueError, IndexError):
            continue
    return None


def cmd_footprint(outfile, name, workload_comm, *rest):
    # rest: [--find COMM] CMD...  (--find: the supervisor is a daemonized process named COMM, e.g. conmon)
    find = None
    if rest and rest[0] == "--find":
        find, rest = rest[1], rest[2:]
    cmd = list(rest)
    ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = {"supervisor_rss_kib": 0, "supervisor_anon_kib": 0, "supervisor_file_kib": 0, "supervisor_hwm_kib": 0,
            "launcher_total_rss_kib": 0, "launcher_processes": 0}
    seen_workload = None  # when the workload was first seen; RSS counts from 0.5 s later (steady state)
    samples = []  # every steady-state sample of the supervisor's VmRSS (the table shows the highest)
    while p.poll() is None:
        root = p.pid
        if find:
            root = find_process(find, ticks)
            if root is None:
                time.sleep(0.05)
                continue
        tree, stack = [], [root]
        while stack:
            pid = stack.pop()
            st = proc_status(pid)
            if st is None: continue
            tree.append((pid, st))
            stack += children(pid)
        workload = [pid for pid, st in tree if st.get("Name") == workload_comm]
        if workload and seen_workload is None:
            seen_workload = time.monotonic()
        if workload and time.monotonic() - seen_workload >= 0.5:
            launchers = [(pid, st) for pid, st in tree if st.get("Name") != workload_comm]
            sup = next((st for pid, st in launchers if pid == root), None)
            if sup:
                samples.append(kib(sup, "VmRSS"))
                peak["supervisor_rss_kib"] = max(peak["supervisor_rss_kib"], kib(sup, "VmRSS"))
                peak["supervisor_anon_kib"] = max(peak["supervisor_anon_kib"], kib(sup, "RssAnon"))
                peak["supervisor_file_kib"] = max(peak["supervisor_file_kib"], kib(sup, "RssFile"))
                peak["supervisor_hwm_kib"] = max(peak["supervisor_hwm_kib"], kib(sup, "VmHWM"))
            peak["launcher_total_rss_kib"] = max(peak["launcher_total_rss_kib"],
                                                 sum(kib(st, "VmRSS") for _, st in launchers))
            peak["launcher_processes"] = max(peak["launcher_processes"], len(launchers))
        time.sleep(0.05)
    err = p.stderr.read().decode(errors="replace").strip()
    res = {"name": name, **peak, "supervisor_rss_min_kib": min(samples) if samples else None,
           "supervisor_rss_samples_kib": samples}
    if p.returncode != 0 or seen_workload is None or not peak["supervisor_rss_kib"]:
        res = {"name": name, "error": err[-300:] or f"exit {p.returncode}, workload {workload_comm} never seen"}
    append_json(outfile, res)
    print(f"footprint {name}: {res}", file=sys.stderr)
    return 0 if "error" not in res else 1


def append_json(path, obj):
    data = json.load(open(path)) if os.path.exists(path) else []
    data.append(obj)
    json.dump(data, open(path, "w"), indent=1)


# ------------------------------------------------------------------------------------------------
# latency rounds -> one list of run times per command
# ------------------------------------------------------------------------------------------------
def cmd_merge_latency(outfile, rounds):
    merged, cpu = {}, {}
    order = []
    for path in rounds:
        for r in json.load(open(path))["results"]:
            name = r["command"]
            if name not in merged:
                merged[name], cpu[name] = [], []
                order.append(name)
            merged[name] += [t * 1000.0 for t in r["times"]]
            # CPU per launch: hyperfine's mean user + system time of the round, from wait4's rusage of the launcher,
            # which includes every process of the launch it waited for (the workload, a supervisor's children)
            if r.get("user") is not None and r.get("system") is not None:
                cpu[name].append((r["user"] + r["system"]) * 1000.0)
    json.dump([{"name": n, "times_ms": merged[n], "cpu_ms_rounds": cpu[n]} for n in order], open(outfile, "w"), indent=1)


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------
def load(dirpath, name, default):
    p = os.path.join(dirpath, name)
    return json.load(open(p)) if os.path.exists(p) else default


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def ratio(other, base):
    if other is None or base in (None, 0):
        return "–"
    return f"{other / base:.2f}×"


def cmd_report(d):
    meta = load(d, "meta.json", {})
    lat = load(d, "latency.json", [])
    unavailable = load(d, "unavailable.json", [])
    sec = load(d, "seccomp.json", {})
    bpf = load(d, "bpf.json", {})
    thr = load(d, "throughput.json", [])
    foot = load(d, "footprint.json", [])
    sizes = load(d, "sizes.json", [])

    latency = []
    for e in lat:
        t = sorted(e["times_ms"])
        cpu = e.get("cpu_ms_rounds") or []
        latency.append({"name": e["name"], "runs": len(t), "median_ms": statistics.median(t), "min_ms": t[0],
                        "max_ms": t[-1], "mean_ms": statistics.mean(t),
                        "stddev_ms": statistics.stdev(t) if len(t) > 1 else 0.0,
                        "cpu_ms": statistics.median(cpu) if cpu else None, "cpu_ms_rounds": cpu,
                        "times_ms": e["times_ms"]})  # every run, in the order they ran
    by = {e["name"]: e for e in latency}
    hr_key = "hardrun run (seccomp)"
    base = by.get(hr_key, {}).get("median_ms")

    tp = {}
    for e in thr:
        tp.setdefault(e["name"], {}).setdefault(str(e["concurrency"]), []).append(e.get("per_s"))
    throughput = {n: {c: (statistics.median([x for x in v if x is not None]) if all(x is not None for x in v) else None)
                      for c, v in cs.items()} for n, cs in tp.items()}
    # every round, and min/max over them (None: a round failed)
    throughput_rounds = {n: {c: {"median": throughput[n][c], "min": min(v) if throughput[n][c] else None,
                                 "max": max(v) if throughput[n][c] else None, "rounds": v}
                             for c, v in cs.items()} for n, cs in tp.items()}

    seccomp, seccomp_rounds = {}, {}
    for prof, runs in sec.get("runs", {}).items():
        seccomp[prof] = {k: statistics.median([r[k] for r in runs]) for k in runs[0]} if runs else {}
        seccomp_rounds[prof] = {k: {"median": seccomp[prof][k], "min": min(r[k] for r in runs),
                                    "max": max(r[k] for r in runs), "rounds": [r[k] for r in runs]}
                                for k in runs[0]} if runs else {}

    targets, targets17 = [], []  # issue 8's and issue 17's
    def target(text, ok, detail, into=targets):
        into.append({"target": text, "met": ok, "detail": detail})
    def target17(text, ok, detail):
        target(text, ok, detail, targets17)
    bw = by.get("bwrap", {}).get("median_ms")
    rc = by.get("runc run", {}).get("median_ms")
    un = by.get("unshare (same namespaces)", {}).get("median_ms")
    if base:
        if bw: target("hardrun run (with seccomp) median <= bwrap median", base <= bw, f"{base:.2f} ms vs {bw:.2f} ms")
        if rc: target("hardrun run median <= runc median / 3", base <= rc / 3, f"{base:.2f} ms vs {rc / 3:.2f} ms")
        if un: target("hardrun run median <= 2 x unshare floor", base <= 2 * un, f"{base:.2f} ms vs {2 * un:.2f} ms")
    none_ = seccomp.get("no filter")
    dflt = seccomp.get("hardrun default")
    if none_ and dflt:
        worst = max((dflt[k] / none_[k] - 1) * 100 for k in none_ if k in dflt)
        target("default profile: hot syscalls <= 10% slower than no filter", worst <= 10.0,
               f"worst {worst:+.1f}% (" + ", ".join(f"{k} {(dflt[k] / none_[k] - 1) * 100:+.0f}%" for k in none_ if k in dflt) + ")")
    hd, dk = bpf.get("hardrun default"), bpf.get("docker (crun, libseccomp defaults)")
    if hd and dk and "syscalls" in hd and "syscalls" in dk:
        hot = [n for n, v in hd["syscalls"].items() if v["group"] == "hot"]
        worse = [n for n in hot if hd["syscalls"][n]["executed"] > dk["syscalls"][n]["executed"]]
        target("default profile: no more BPF instructions than Docker's for hot syscalls", not worse,
               ", ".join(f"{n} {hd['syscalls'][n]['executed']} vs {dk['syscalls'][n]['executed']}" for n in hot))
    hrf = next((f for f in foot if f["name"] == "hardrun" and "error" not in f), None)
    if hrf:
        target("supervisor RSS < 2 MiB while the workload runs", hrf["supervisor_rss_kib"] < 2048,
               f"{hrf['supervisor_rss_kib']} KiB from 0.5 s on, private {hrf['supervisor_anon_kib']} KiB; "
               f"start-up peak (VmHWM) {hrf['supervisor_hwm_kib']} KiB")

    # issue 17's targets (performance): ahead of bubblewrap with more hardening, fast where engines call it
    if base and bw:
        target17("hardrun run median <= 0.9 x bwrap's", base <= 0.9 * bw, f"{base:.2f} ms vs {0.9 * bw:.2f} ms ({base / bw:.2f}x bwrap)")
    hcpu, bcpu = by.get(hr_key, {}).get("cpu_ms"), by.get("bwrap", {}).get("cpu_ms")
    if hcpu is not None and bcpu is not None:
        target17("CPU per launch (user+sys of the launch's processes) <= bwrap's", hcpu <= bcpu, f"{hcpu:.2f} ms vs {bcpu:.2f} ms")
    if "hardrun" in throughput and "bwrap" in throughput:
        for c in sorted(throughput["hardrun"], key=int):
            h, b = throughput["hardrun"].get(c), throughput["bwrap"].get(c)
            if h and b:
                target17(f"throughput with {c} concurrent launcher(s) >= bwrap's", h >= b, f"{h:.1f}/s vs {b:.1f}/s")
    if hrf:
        target17("supervisor start-up peak (VmHWM) < 2 MiB", hrf["supervisor_hwm_kib"] < 2048, f"{hrf['supervisor_hwm_kib']} KiB")
        target17("supervisor steady RSS < 1 MiB", hrf["supervisor_rss_kib"] < 1024, f"{hrf['supervisor_rss_kib']} KiB")
    oci, crun_run = by.get("hardrun create+start+delete", {}).get("median_ms"), by.get("crun run", {}).get("median_ms")
    if oci and crun_run:
        target17("hardrun create+start+delete <= crun run (same bundle)", oci <= crun_run, f"{oci:.2f} ms vs {crun_run:.2f} ms")
    hx, cx = by.get("hardrun exec", {}).get("median_ms"), by.get("crun exec", {}).get("median_ms")
    if hx and cx:
        target17("hardrun exec <= crun exec", hx <= cx, f"{hx:.2f} ms vs {cx:.2f} ms")

    results = {"meta": meta, "latency": latency, "targets_issue17": targets17, "unavailable": unavailable, "seccomp_ns": seccomp,
               "seccomp_ns_rounds": seccomp_rounds, "seccomp_bpf": bpf, "throughput_per_s": throughput,
               "throughput_rounds": throughput_rounds, "footprint": foot, "sizes": sizes, "targets": targets}
    json.dump(results, open(os.path.join(d, "results.json"), "w"), indent=1)

    md = []
    md.append(f"### Benchmark {meta.get('date', '')}{' (--quick: indicative only)' if meta.get('quick') else ''}")
    md.append("")
    md.append(f"Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('mem', '?')}, "
              f"kernel {meta.get('kernel', '?')}, {meta.get('os', '?')}. Load average at start {meta.get('load_start', '?')}, "
              f"at end {meta.get('load_end', '?')}. {meta.get('hardrun_version', '?')} ({meta.get('hardrun_link', '?')}), "
              f"{meta.get('versions', '')}.")
    md.append("")
    md.append(f"**Launch latency** of `/bin/true` (busybox rootfs; read-only root, uid 10001, no capabilities, "
              f"no_new_privs, new mount/pid/ipc/uts/net namespaces, /proc, /dev, tmpfs /tmp), hyperfine, "
              f"{meta.get('rounds', '?')} interleaved rounds with warm-up, order rotated each round:")
    md.append("")
    md.append("| launcher | runs | median ms | min ms | max ms | ratio (other/hardrun) | CPU ms (user+sys) |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for e in latency:
        md.append(f"| {e['name']} | {e['runs']} | {e['median_ms']:.2f} | {e['min_ms']:.2f} | {e['max_ms']:.2f} | "
                  f"{ratio(e['median_ms'], base)} | {fmt(e.get('cpu_ms'), 2)} |")
    for u in unavailable:
        md.append(f"| {u['name']} | – | – | – | – | {u['reason']} | – |")
    md.append("")
    md.append("CPU per launch: hyperfine's mean user+system time of each round (wait4's rusage of the launcher, which "
              "includes every process of the launch it waited for), median over the rounds.")
    md.append("")
    if meta.get("notes"):
        for n in meta["notes"]:
            md.append(f"- {n}")
        md.append("")
    if seccomp:
        keys = ["getppid", "read", "write", "futex"]
        md.append("**Seccomp cost** inside a hardrun sandbox (ns per syscall, the best of 15 repetitions, median over "
                  "5 rounds [min–max of the rounds]; ratio against no filter):")
        md.append("")
        md.append("| filter | " + " | ".join(keys) + " |")
        md.append("| --- | " + " | ".join("---:" for _ in keys) + " |")
        for prof, v in seccomp.items():
            cells = []
            for k in keys:
                if k in v:
                    r = seccomp_rounds.get(prof, {}).get(k)
                    cells.append(f"{v[k]:.0f}" + (f" [{r['min']:.0f}–{r['max']:.0f}]" if r else "")
                                 + (f" ({v[k] / none_[k]:.2f}×)" if none_ and k in none_ and prof != "no filter" else ""))
                else:
                    cells.append("–")
            md.append(f"| {prof} | " + " | ".join(cells) + " |")
        md.append("")
    if bpf:
        names = [n for n, _, _ in HOT] + [n for n, _, _ in OTHER[:4]]
        md.append("**BPF instructions run per syscall** (own interpreter over the filter dumped from the running "
                  "workload; `cached` = the kernel answers from its action cache and runs no instruction):")
        md.append("")
        md.append("| filter | length | " + " | ".join(names) + " | mean, all syscalls |")
        md.append("| --- | ---: | " + " | ".join("---:" for _ in names) + " | ---: |")
        for prof, v in bpf.items():
            if "error" in v:
                md.append(f"| {prof} | – | " + " | ".join("–" for _ in names) + f" | {v['error']} |")
                continue
            cells = []
            for n in names:
                s = v["syscalls"].get(n)
                cells.append("–" if not s else f"{s['executed']}{' cached' if s['kernel_cache'] else ''}"
                             + ("" if s["action"] == "ALLOW" else f" {s['action']}"))
            md.append(f"| {prof} | {v['instructions_total']} | " + " | ".join(cells) + f" | {fmt(v.get('mean_all_syscalls'))} |")
        md.append("")
    if throughput:
        concs = sorted({c for v in throughput.values() for c in v}, key=int)
        hr = throughput.get("hardrun", {})
        md.append("**Throughput** (launches of `/bin/true` per second, N concurrent launchers; median of the rounds "
                  "[min–max]; ratio other/hardrun):")
        md.append("")
        md.append("| launcher | " + " | ".join(f"{c} concurrent" for c in concs) + " |")
        md.append("| --- | " + " | ".join("---:" for _ in concs) + " |")
        for n, v in throughput.items():
            def cell(c):
                r = throughput_rounds[n].get(c, {})
                span = f" [{fmt(r['min'])}–{fmt(r['max'])}]" if r.get("min") is not None else ""
                return fmt(v.get(c)) + span + ("" if n == "hardrun" else f" ({ratio(v.get(c), hr.get(c))})")
            md.append(f"| {n} | " + " | ".join(cell(c) if v.get(c) else "failed" for c in concs) + " |")
        md.append("")
    if foot or sizes:
        hrf_rss = hrf["supervisor_rss_kib"] if hrf else None
        md.append("**Footprint** while the workload (`sleep`) runs: RSS of the supervisor process (the one that waits for "
                  "the workload) sampled every 50 ms from 0.5 s after the workload started (the highest sample; the lowest in "
                  "brackets), the private "
                  "(anonymous) part of it, the supervisor's lifetime peak including start-up (VmHWM), and every launcher "
                  "process on the host side together; binary size on disk:")
        md.append("")
        md.append("| launcher | supervisor RSS KiB | of which private | lifetime peak (VmHWM) KiB | all launcher processes KiB | ratio (RSS) | binary | size KiB | shared libraries |")
        md.append("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
        sz = {s["name"]: s for s in sizes}
        for f in foot:
            s = sz.get(f["name"], {})
            if "error" in f:
                md.append(f"| {f['name']} | failed: {f['error'][:80]} | | | | | {s.get('binary', '')} | {s.get('kib', '')} | {s.get('libs', '')} |")
                continue
            low = f" [{f['supervisor_rss_min_kib']}]" if f.get("supervisor_rss_min_kib") is not None else ""
            md.append(f"| {f['name']} | {f['supervisor_rss_kib']}{low} | {f['supervisor_anon_kib']} | {f['supervisor_hwm_kib']} | "
                      f"{f['launcher_total_rss_kib']} ({f['launcher_processes']} proc) | {ratio(f['supervisor_rss_kib'], hrf_rss)} | "
                      f"{s.get('binary', '')} | {s.get('kib', '')} | {s.get('libs', '')} |")
        for s in sizes:
            if not any(f["name"] == s["name"] for f in foot):
                md.append(f"| {s['name']} | – | – | – | – | – | {s.get('binary', '')} | {s.get('kib', '')} | {s.get('libs', '')} |")
        md.append("")
    for issue, ts in (("issue 8", targets), ("issue 17", targets17)):
        if not ts:
            continue
        md.append(f"**Targets** ({issue}):")
        md.append("")
        for t in ts:
            md.append(f"- {'met' if t['met'] else 'NOT met'}: {t['target']} ({t['detail']})")
        md.append("")
    open(os.path.join(d, "results.md"), "w").write("\n".join(md))

    # chart data: latency bars (median, min, max) and throughput lines
    with open(os.path.join(d, "latency.dat"), "w") as f:
        for i, e in enumerate(latency):
            f.write(f'{i} "{e["name"]}" {e["median_ms"]:.3f} {e["min_ms"]:.3f} {e["max_ms"]:.3f}\n')
    with open(os.path.join(d, "throughput.dat"), "w") as f:
        names = list(throughput)
        f.write("conc " + " ".join(f'"{n}"' for n in names) + "\n")
        for c in sorted({c for v in throughput.values() for c in v}, key=int):
            f.write(c + " " + " ".join(fmt(throughput[n].get(c)) if throughput[n].get(c) else "NaN" for n in names) + "\n")
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "bpfcount": return cmd_bpfcount(argv[2:])
    if cmd == "docker2oci": return cmd_docker2oci(argv[2], argv[3] if len(argv) > 3 else "")
    if cmd == "throughput":
        sep = argv.index("--")
        return cmd_throughput(*argv[2:sep], argv[sep + 1:])
    if cmd == "footprint":
        sep = argv.index("--")
        return cmd_footprint(*argv[2:sep], *argv[sep + 1:])
    if cmd == "merge-latency": return cmd_merge_latency(argv[2], argv[3:])
    if cmd == "report": return cmd_report(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
