"""A directory as the workload's stdin/stdout/stderr (issue 12, item 11b).

`hardrun run ... < /some/dir` (an O_RDONLY|O_DIRECTORY or an O_PATH fd as fd 0) hands the workload an fd into
the host's tree: /proc/self/fd/0 (or fchdir(0), openat(0, ...)) reaches the host directory from inside the
sandbox, past pivot_root.

hardrun's defence: before anything is set up, fds 0-2 are checked; a directory or an O_PATH fd is refused with
one line naming the fd. Regular files, ttys, pipes, sockets and /dev/null are fine.

The check is whether the workload ran (a marker it would write to a volume) and what it could read.
"""
import os
import socket
import subprocess

import pytest

from secutil import HARDRUN, ROOTFS


@pytest.fixture
def secret_dir(host_dir):
    d = host_dir / "hostdir"
    d.mkdir()
    os.chmod(d, 0o755)
    (d / "secret").write_text("host-secret\n")
    os.chmod(d / "secret", 0o644)
    out = host_dir / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    return d, out


def launch(fds, out, user, script):
    """Runs the sandbox with the given fds as 0, 1, 2 (None: a pipe); returns (rc, stdout, stderr)."""
    cmd = [HARDRUN, "run", "--rootfs", ROOTFS, "--landlock=off", "-v", f"{out}:/data", "--",
           "sh", "-c", "echo ran > /data/marker; " + script]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
    std = [subprocess.PIPE if f is None else f for f in fds]
    p = subprocess.run(cmd, stdin=std[0], stdout=std[1], stderr=std[2], timeout=30)
    return p.returncode, (p.stdout or b"").decode(errors="replace"), (p.stderr or b"").decode(errors="replace")


@pytest.mark.parametrize("fd", [0, 1, 2])
@pytest.mark.parametrize("how", ["O_DIRECTORY", "O_PATH"])
def test_a_directory_as_stdio_is_refused(secret_dir, as_user, fd, how):
    d, out = secret_dir
    flags = os.O_RDONLY | os.O_DIRECTORY if how == "O_DIRECTORY" else os.O_PATH | os.O_DIRECTORY
    dirfd = os.open(d, flags)
    try:
        fds = [None, None, None]
        fds[fd] = dirfd
        if fd != 0:
            fds[0] = subprocess.DEVNULL
        rc, stdout, stderr = launch(fds, out, as_user, f"cat /proc/self/fd/{fd}/secret; ls /proc/self/fd/{fd}/")
    finally:
        os.close(dirfd)
    assert rc == 125, (rc, stdout, stderr)
    assert not os.path.exists(out / "marker"), "the workload ran with a host directory as its stdio"
    assert "host-secret" not in stdout + stderr
    if fd != 2:  # with a directory as stderr there is no line to read
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and f"fd {fd}" in lines[0] and "directory" in lines[0], stderr


def test_an_o_path_regular_file_as_stdin_is_refused(secret_dir, as_user):
    d, out = secret_dir
    fd = os.open(d / "secret", os.O_PATH)
    try:
        rc, stdout, stderr = launch([fd, None, None], out, as_user, "cat /proc/self/fd/0")
    finally:
        os.close(fd)
    assert rc == 125, (rc, stdout, stderr)
    assert not os.path.exists(out / "marker")
    assert "O_PATH" in stderr


def test_ordinary_stdio_still_works(secret_dir, as_user):
    d, out = secret_dir
    # a regular file as stdin, a socket as stdout, /dev/null as stderr
    a, b = socket.socketpair()
    with open(d / "secret", "rb") as f:
        rc, _, _ = launch([f, a.fileno(), subprocess.DEVNULL], out, as_user, "cat")
    a.close()
    got = b.recv(4096)
    b.close()
    assert rc == 0
    assert got == b"host-secret\n"
    assert (out / "marker").read_text() == "ran\n"
    # a pipe
    os.unlink(out / "marker")
    rc, stdout, _ = launch([None, None, None], out, as_user, "echo piped")
    assert rc == 0 and stdout == "piped\n"


def test_a_tty_as_stdio_still_works(secret_dir, as_user):
    d, out = secret_dir
    master, slave = os.openpty()
    try:
        rc, _, stderr = launch([slave, slave, None], out, as_user, "test -t 0 && echo tty")
        os.set_blocking(master, False)
        got = os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert rc == 0, stderr
    assert b"tty" in got


@pytest.mark.skipif(os.geteuid() != 0, reason="the OCI create case runs as root")
def test_oci_create_refuses_a_directory_as_stdin(secret_dir, host_dir):
    import json
    d, _ = secret_dir
    bundle = host_dir / "bundle"
    bundle.mkdir()
    p = subprocess.run([HARDRUN, "spec", "--bundle", str(bundle)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"]["path"] = ROOTFS
    cfg["process"]["args"] = ["sleep", "60"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    state = host_dir / "state"
    dirfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    err = host_dir / "stderr"
    try:
        # stdout/stderr to files: a created container keeps the stdio it was created with (a pipe never ends)
        with open(err, "w") as e:
            rc = subprocess.run([HARDRUN, "--root", str(state), "create", "--bundle", str(bundle), "stdiodir"],
                                stdin=dirfd, stdout=subprocess.DEVNULL, stderr=e, timeout=30).returncode
    finally:
        os.close(dirfd)
    p = subprocess.CompletedProcess([], rc, "", err.read_text())
    if p.returncode == 0:  # never leave a container behind, even when the test fails
        subprocess.run([HARDRUN, "--root", str(state), "delete", "--force", "stdiodir"], timeout=30)
    assert p.returncode == 125, p.stderr
    assert "fd 0" in p.stderr and "directory" in p.stderr
    assert not (state / "stdiodir").exists()
