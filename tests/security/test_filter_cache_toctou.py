"""Seccomp filter cache poisoning (issue 12, class 2).

The filter cache (include/hardrun/layers/seccomp/filter_cache.hpp) keeps compiled programs keyed by, among other things, every
byte of the profile. The key was computed from one read of the profile file and the program compiled from a
second read: a file swapped between the two stored the permissive profile's program under the strict profile's
key, and every later launch with the strict profile loaded the permissive program. hardrun now reads the profile
once and hashes and compiles the same bytes.

The test swaps a strict profile (hardrun's default) and a permissive one (allow everything) under one path with
renameat2(RENAME_EXCHANGE) (secprobe swap) while launching with `--security-opt seccomp=PATH`, each launch with a
fresh cache directory so that each one compiles and stores. Every entry must hold exactly the program that
compiling the profile bytes in its key gives, and a later launch with the strict profile must get the strict
program (sysx vsock: EPERM).
"""
import os
import shutil
import struct
import subprocess

from secutil import HARDRUN, ROOT, ROOTFS, SECPROBE, run

STRICT = os.path.join(ROOT, "profiles", "seccomp", "default.json")
PERMISSIVE = '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}\n'
LAUNCHES = int(os.environ.get("HARDRUN_RACE_LAUNCHES", "40"))
MAGIC = b"hardrun filter cache 1\n"


def fields(data):
    """The length-prefixed fields (u64 native-endian length, bytes) of a cache entry, in order."""
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("=Q", data, pos)
        out.append(data[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


def entry(cache_dir):
    """(profile bytes in the key, the stored BPF program) of the only entry in cache_dir."""
    names = [n for n in os.listdir(cache_dir) if not n.startswith(".")]
    assert len(names) == 1, names
    data = open(os.path.join(cache_dir, names[0]), "rb").read()
    assert data.startswith(MAGIC)
    key, value = fields(data[len(MAGIC):])
    # the key: "seccomp enforce", version, build id, libseccomp version (u64), "file", path, profile bytes, ...
    pos = 0
    parts = []
    for i in range(7):
        if i == 3:
            pos += 8
            parts.append(None)
            continue
        (n,) = struct.unpack_from("=Q", key, pos)
        parts.append(key[pos + 8:pos + 8 + n])
        pos += 8 + n
    assert parts[0] == b"seccomp enforce" and parts[4] == b"file", parts[:5]
    (n,) = struct.unpack_from("=Q", value, 0)
    return parts[6], value[8:8 + n]


def compiled(path, out):
    p = subprocess.run([HARDRUN, "seccomp", "compile", path, "-o", out], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return open(out, "rb").read()


def test_a_profile_swapped_during_the_launch_never_poisons_the_cache(host_dir):
    profile, other = host_dir / "profile.json", host_dir / "other.json"
    strict_bytes = open(STRICT, "rb").read()
    profile.write_bytes(strict_bytes)
    other.write_text(PERMISSIVE)
    programs = {strict_bytes: compiled(str(profile), str(host_dir / "strict.bpf")),
                PERMISSIVE.encode(): compiled(str(other), str(host_dir / "permissive.bpf"))}
    assert programs[strict_bytes] != programs[PERMISSIVE.encode()]

    swapper = subprocess.Popen([SECPROBE, "swap", str(profile), str(other)])
    poisoned, seen = [], set()
    try:
        for i in range(LAUNCHES):
            cache = host_dir / f"cache-{i}"
            env = dict(os.environ, HARDRUN_CACHE_DIR=str(cache))
            p = subprocess.run([HARDRUN, "run", "--rootfs", ROOTFS, "--security-opt", f"seccomp={profile}", "--",
                                "true"], capture_output=True, text=True, timeout=30, env=env)
            assert p.returncode == 0, p.stderr
            key_bytes, program = entry(str(cache))
            assert key_bytes in programs, key_bytes[:80]
            seen.add(key_bytes)
            if program != programs[key_bytes]:
                poisoned.append((i, "strict" if key_bytes == strict_bytes else "permissive"))
    finally:
        swapper.kill()
        swapper.wait()
    assert poisoned == [], f"{len(poisoned)} of {LAUNCHES} entries hold the other profile's program: {poisoned[:5]}"
    assert seen == set(programs), "the swap never showed both profiles to the launches (the race did not run)"

    # every later launch with the strict profile gets the strict program, from whichever cache it hits
    profile.write_bytes(strict_bytes)
    for i in range(LAUNCHES):
        cache = host_dir / f"cache-{i}"
        if entry(str(cache))[0] != strict_bytes:
            continue
        env = dict(os.environ, HARDRUN_CACHE_DIR=str(cache))
        p = subprocess.run([HARDRUN, "run", "--rootfs", ROOTFS, "--security-opt", f"seccomp={profile}", "--",
                            "sysx", "vsock"], capture_output=True, text=True, timeout=30, env=env)
        assert p.stdout.strip() == "vsock EPERM", (i, p.stdout, p.stderr)
    for i in range(LAUNCHES):
        shutil.rmtree(host_dir / f"cache-{i}", ignore_errors=True)
