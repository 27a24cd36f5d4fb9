"""--secret SRC[:NAME]: the file is copied into a private read-only tmpfs at /run/secrets/NAME, mode 0400, owned
by the workload's uid; it is never written into the rootfs and never appears in argv or the environment."""
import os
import subprocess

import pytest

from secutil import HARDRUN, ROOTFS, UNPRIV_UID, run, sh, tree

VALUE = "s3cr3t-value-7f1c2a"


@pytest.fixture
def secret_file(host_dir, as_user):
    path = host_dir / "api_token"
    path.write_text(VALUE + "\n")
    os.chmod(path, 0o600)
    if as_user is not None:
        os.chown(path, as_user, as_user)  # the invoker's own file
    return path


def test_secret_is_private_read_only_and_owned_by_the_workload(secret_file, as_user):
    script = ("cat /run/secrets/token; stat -c '%a %u %g %F' /run/secrets/token; stat -c '%a %u' /run/secrets; "
              "grep ' /run/secrets ' /proc/self/mountinfo; secprobe open /run/secrets/token w; "
              "secprobe open /run/secrets/new creat; id -u")
    p = sh(script, "--secret", f"{secret_file}:token", user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == VALUE
    assert lines[1] == "400 10001 10001 regular file", p.stdout
    assert lines[2].split()[1] == "10001"
    mnt = lines[3].split()
    assert mnt[mnt.index("-") + 1] == "tmpfs", lines[3]
    assert "ro" in mnt[5].split(","), lines[3]
    assert lines[4] in ("EACCES", "EROFS") and lines[5] in ("EACCES", "EROFS"), p.stdout


def test_secret_owned_by_uid_0_when_the_workload_is_root(secret_file, as_user):
    p = sh("stat -c '%a %u' /run/secrets/api_token; cat /run/secrets/api_token", "--user", "0", "-q",
           "--secret", str(secret_file), user=as_user, check=0)
    assert p.stdout.splitlines() == ["400 0", VALUE], p.stdout


def test_secret_not_in_argv_env_or_rootfs(secret_file, tmp_rootfs, as_user):
    if as_user is not None:
        subprocess.run(["chown", "-R", f"{as_user}:{as_user}", tmp_rootfs], check=True)
    p = sh("cat /proc/1/cmdline /proc/1/environ | tr '\\0' '\\n'; env", "--secret", f"{secret_file}:token",
           rootfs=tmp_rootfs, user=as_user, check=0)
    assert VALUE not in p.stdout and VALUE not in p.stderr
    found = subprocess.run(["grep", "-rl", VALUE, tmp_rootfs], capture_output=True, text=True)
    assert found.stdout == "", found.stdout
    assert not os.path.exists(os.path.join(tmp_rootfs, "run", "secrets", "token"))


def test_several_secrets_and_default_names(host_dir, as_user):
    a = host_dir / "db_password"
    b = host_dir / "tls.key"
    a.write_text("A")
    b.write_text("B")
    for f in (a, b):
        if as_user is not None:
            os.chown(f, as_user, as_user)
    p = sh("ls /run/secrets; cat /run/secrets/db_password /run/secrets/key", "--secret", str(a),
           "--secret", f"{b}:key", user=as_user, check=0)
    assert p.stdout.split() == ["db_password", "key", "AB"], p.stdout


@pytest.mark.parametrize("value,needle", [
    ("relative/path", "absolute"),
    ("/nonexistent/secret", "No such file"),
    ("/etc/hostname:a/b", "plain file name"),
    ("/etc/hostname:..", "plain file name"),
])
def test_bad_secret_flags_are_usage_errors(value, needle):
    p = run(["--secret", value, "--", "sh", "-c", "echo RAN"])
    assert p.returncode == 125 and "RAN" not in p.stdout
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "too-large"])
def test_unusable_secret_sources_fail_cleanly(host_dir, kind):
    if kind == "fifo":
        src = host_dir / "fifo"
        os.mkfifo(src)  # opening it for reading would block forever without O_NONBLOCK
    elif kind == "device":
        src = "/dev/zero"
    elif kind == "directory":
        src = host_dir
    else:
        src = host_dir / "big"
        src.write_bytes(b"x" * (600 * 1024))
    p = run(["--secret", f"{src}:s", "--", "sh", "-c", "echo RAN"], timeout=30)
    assert p.returncode == 125 and "RAN" not in p.stdout, p.stderr
    assert "secret" in p.stderr.lower() and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_unreadable_secret_is_refused_rootless(host_dir):
    src = host_dir / "root-only"
    src.write_text(VALUE)
    os.chmod(src, 0o600)  # owned by root: the unprivileged invoker may not read it, so neither may its sandbox
    p = run(["--secret", str(src), "--", "sh", "-c", "cat /run/secrets/root-only"], user=UNPRIV_UID)
    assert p.returncode == 125 and VALUE not in p.stdout, p.stderr
