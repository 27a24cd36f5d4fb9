"""The Landlock planner on a rootfs with very many entries (issue 12, item 8).

With 50,000 files in / the launch took 5 s, with 100,000 41 s (0.02 s with --landlock off): the planner did a
linear search over the rules placed so far for every rule it placed, so its work grew with the square of the
number of entries in a directory it has to list (the root, which is executable while /tmp below it is not).
A rootfs an image author controls could so stall every launch: a denial of service.

hardrun's defence: the planner keeps an index of its rules (one lookup per rule) and answers the questions
about planned paths from the plan's own (small) list, so its work is linear in the entries it lists. The unit
test tests/unit/test_landlock.cpp "compute: work is linear in the entries listed" counts that work; this test is
the end-to-end backstop: 150,000 entries in / must launch (with every entry getting its rule, seen from inside)
well within the timeout, which the quadratic planner needed minutes for.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from secutil import ROOTFS, run

ENTRIES = 150_000


@pytest.fixture
def crowded_rootfs():
    """A copy of the demo rootfs with ENTRIES empty files in its root, on a tmpfs when there is one (creating
    150,000 files on this machine's ext4 takes a minute, on tmpfs two seconds); removed afterwards."""
    where = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    base = tempfile.mkdtemp(prefix="hardrun-sec-crowded-", dir=where)
    try:
        rootfs = os.path.join(base, "rootfs")
        subprocess.run(["cp", "-a", ROOTFS, rootfs], check=True)
        for i in range(ENTRIES):
            os.close(os.open(os.path.join(rootfs, f"f{i:06d}"), os.O_CREAT | os.O_WRONLY, 0o644))
        yield rootfs
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_many_entries_in_the_root_launch_in_bounded_time(crowded_rootfs):
    # landlock=on: the launch fails rather than skipping it; the workload reads one of the files (a rule on
    # each entry of / is what lets it) and cannot write it (the root is read-only for Landlock too)
    p = run(["--landlock=on", "--", "sh", "-c", "cat /f149999 && echo readable; ls / | wc -l"],
            rootfs=crowded_rootfs, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert lines[0] == "readable"
    assert int(lines[1]) >= ENTRIES
