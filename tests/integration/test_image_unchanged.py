"""The image on disk never changes (issue 16 items 1 and 2).

Whatever a launch must create in a --rootfs image (a mount point it lacks, a passwd/group entry for the workload's
uid, /etc/hosts and /etc/hostname that fit the sandbox) and whatever a --read-write workload writes lands in a
tmpfs layer over the image. Each test snapshots the whole tree (path, type, mode, owner, size, mtime, symlink
target) before and after and checks, from inside, what the workload sees."""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import ROOTFS, run, hardrun


def snapshot(root):
    """Every entry below root: type, mode, owner, size, mtime (ns) and symlink target, as lstat shows them."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            target = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            size = st.st_size if not stat.S_ISDIR(st.st_mode) else None  # a directory's size says nothing here
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                             size, st.st_mtime_ns, target)
    return out


def assert_unchanged(before, root):
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    assert not added and not removed and not changed, f"added {added} removed {removed} changed {changed}"


@pytest.fixture
def image(tmp_rootfs):
    """A private copy of the demo rootfs without /run, /var/tmp and /etc/hosts (which a launch fills in)."""
    for d in ("run", "var/tmp"):
        subprocess.run(["rm", "-rf", os.path.join(tmp_rootfs, d)], check=True)
    os.unlink(os.path.join(tmp_rootfs, "etc/hosts"))
    return tmp_rootfs


def test_missing_mount_points_are_made_in_the_layer(image, as_user, shared_dir):
    vol = os.path.join(shared_dir, "conf")
    secret = os.path.join(shared_dir, "token")
    for path, text in ((vol, "listen 80;\n"), (secret, "s3cret")):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    before = snapshot(image)
    p = run(["--tmpfs", "/var/lib/nginx/body", "--tmpfs", "/run/postgresql", "-v", f"{vol}:/app/conf/site.conf:ro",
             "--secret", f"{secret}:token", "--",
             "sh", "-c", "cat /app/conf/site.conf /run/secrets/token; echo; "
             "stat -c '%n %a %U' /var /var/lib /var/lib/nginx/body /run/postgresql; "
             "grep -E ' /(var/lib/nginx/body|run/postgresql|app/conf/site.conf|run/secrets) ' /proc/self/mountinfo | wc -l; "
             "touch /var/newfile 2>&1 | tail -1"],
            rootfs=image, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "listen 80;" and lines[1] == "s3cret", p.stdout + p.stderr
    modes = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    # /var keeps the image's mode (and, as root, its owner); a directory the image lacks is 0755
    assert modes["/var"][0] == oct(os.stat(os.path.join(image, "var")).st_mode & 0o7777)[2:]
    assert not os.path.exists(os.path.join(image, "var/lib")) and modes["/var/lib"][0] == "755"
    if as_user is None:
        assert modes["/var"][1] == "root"
    assert modes["/var/lib/nginx/body"][0] == modes["/run/postgresql"][0] == "1777"
    assert lines[6] == "4", p.stdout
    assert "Read-only file system" in lines[7], p.stdout  # the layer does not make the root writable
    assert_unchanged(before, image)


def test_the_workload_uid_gets_a_name_without_touching_the_image(image, as_user):
    before = snapshot(image)
    p = run(["-u", "4242:4343", "--", "sh", "-c", "id -un; id -gn; echo HOME=$HOME; grep -c . /etc/passwd; "
             "stat -c '%a %s' /etc/passwd; tail -n 1 /etc/passwd; tail -n 1 /etc/group"],
            rootfs=image, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[:3] == ["hardrun", "hardrun", "HOME=/"], p.stdout
    with open(os.path.join(image, "etc/passwd")) as f:
        image_lines = f.read().splitlines()
    assert int(lines[3]) == len(image_lines) + 1  # the image's own entries are all still there
    assert lines[4].startswith("644 ")
    assert lines[5] == "hardrun:x:4242:4343:hardrun workload:/:/bin/sh"
    assert lines[6] == "hardrun:x:4343:"
    assert_unchanged(before, image)


def test_home_follows_the_image_entry_and_no_layer_is_made_when_nothing_is_missing(tmp_rootfs):
    # the demo rootfs has uid 10001 (app, home /home/app), /etc/hosts and /etc/hostname "hardrun": the root is a
    # plain bind, not an overlay
    before = snapshot(tmp_rootfs)
    p = run(["--", "sh", "-c", "id -un; echo HOME=$HOME; awk '$5 == \"/\"' /proc/self/mountinfo"], rootfs=tmp_rootfs, check=0)
    lines = p.stdout.splitlines()
    assert lines[:2] == ["app", "HOME=/home/app"], p.stdout
    assert " - overlay " not in lines[2]
    p = run(["-e", "HOME=/tmp", "--", "sh", "-c", "echo $HOME"], rootfs=tmp_rootfs, check=0)
    assert p.stdout.strip() == "/tmp"
    assert_unchanged(before, tmp_rootfs)


def test_hosts_and_hostname_fit_the_sandbox(image, as_user):
    before = snapshot(image)
    p = run(["--hostname", "web1", "--", "sh", "-c", "cat /etc/hostname; cat /etc/hosts; hostname"],
            rootfs=image, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "web1" and lines[-1] == "web1", p.stdout
    assert any(line.split()[:2] == ["127.0.0.1", "localhost"] and "web1" in line.split() for line in lines), p.stdout
    assert_unchanged(before, image)


def test_network_host_sees_the_hosts_resolv_conf(image):
    with open("/etc/resolv.conf") as f:
        host_resolv = f.read()
    before = snapshot(image)
    p = run(["--network", "host", "--", "cat", "/etc/resolv.conf"], rootfs=image, check=0)
    assert p.stdout == host_resolv
    assert_unchanged(before, image)


def test_var_tmp_is_a_tmpfs_where_the_image_has_one(tmp_rootfs, as_user):
    p = run(["--", "sh", "-c", "grep ' /var/tmp ' /proc/self/mountinfo; touch /var/tmp/x && echo wrote"],
            rootfs=tmp_rootfs, user=as_user, check=0)
    assert " - tmpfs " in p.stdout and "noexec" in p.stdout.split(" - ")[0] and p.stdout.endswith("wrote\n"), p.stdout
    assert not os.path.exists(os.path.join(tmp_rootfs, "var/tmp/x"))
    # no /var/tmp in the image: no mount point is made for it
    image = tmp_rootfs
    shutil.rmtree(os.path.join(image, "var/tmp"))
    before = snapshot(image)
    p = run(["--", "sh", "-c", "test -e /var/tmp && echo there || echo absent"], rootfs=image, user=as_user, check=0)
    assert p.stdout == "absent\n"
    assert_unchanged(before, image)


def test_read_write_is_an_ephemeral_layer(tmp_rootfs):
    before = snapshot(tmp_rootfs)
    script = ("echo data > /root/new && rm /bin/ls && mkdir /etc/app.d && echo changed; "
              "test -e /bin/ls || echo ls-gone; awk '$5 == \"/\"' /proc/self/mountinfo")
    p = run(["--read-write", "-u", "0", "--", "sh", "-c", script], rootfs=tmp_rootfs, check=0)
    assert p.stdout.splitlines()[:2] == ["changed", "ls-gone"], p.stdout + p.stderr
    assert " - overlay " in p.stdout
    assert "writes go to a tmpfs layer, discarded at exit" in p.stderr
    assert_unchanged(before, tmp_rootfs)
    # the next run sees the image as it was
    p = run(["-u", "0", "--", "sh", "-c", "test -e /bin/ls && echo ls-there; test -e /root/new || echo no-new"],
            rootfs=tmp_rootfs, check=0)
    assert p.stdout.split() == ["ls-there", "no-new"]


def test_read_write_image_writes_into_the_directory_on_purpose(tmp_rootfs):
    p = run(["--read-write=image", "--", "sh", "-c", "echo kept > /home/app/kept"], rootfs=tmp_rootfs, check=0)
    assert "writes go into the rootfs directory itself (--read-write=image)" in p.stderr
    with open(os.path.join(tmp_rootfs, "home/app/kept")) as f:
        assert f.read() == "kept\n"
    p = hardrun("run", "--rootfs", tmp_rootfs, "--read-write=somewhere", "--", "true")
    assert p.returncode == 125 and len(p.stderr.splitlines()) == 1 and "--read-write=image" in p.stderr, p.stderr
    p = hardrun("lint", "--flags", "--", "--read-write=image")
    assert "fs.writes-image" in p.stdout, p.stdout + p.stderr


def test_tmpfs_owner_mode_and_copy_up(tmp_rootfs, as_user):
    uid = 10001
    before = snapshot(tmp_rootfs)
    p = run(["--tmpfs", f"/home/app:uid={uid},gid={uid},mode=0700,tmpcopyup", "--tmpfs", "/srv/db:uid=10001,mode=0700",
             "--", "sh", "-c", "stat -c '%a %u %g' /home/app /srv/db; ls /etc/hostname; touch /srv/db/x && echo wrote"],
            rootfs=tmp_rootfs, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == f"700 {uid} {uid}", p.stdout + p.stderr
    assert lines[1].startswith(f"700 {uid} ")
    assert lines[-1] == "wrote"
    assert_unchanged(before, tmp_rootfs)


def test_tmpcopyup_fills_the_tmpfs_with_the_image_files(tmp_rootfs, as_user):
    os.makedirs(os.path.join(tmp_rootfs, "srv/www"))
    with open(os.path.join(tmp_rootfs, "srv/www/index.html"), "w") as f:
        f.write("hello\n")
    os.chown(os.path.join(tmp_rootfs, "srv/www/index.html"), 10001, 10001)  # the workload's: it may append
    before = snapshot(tmp_rootfs)
    p = run(["--tmpfs", "/srv/www:tmpcopyup", "--", "sh", "-c", "cat /srv/www/index.html; echo more >> /srv/www/index.html && cat /srv/www/index.html"],
            rootfs=tmp_rootfs, user=as_user, check=0)
    assert p.stdout == "hello\nhello\nmore\n", p.stdout + p.stderr
    p = run(["--tmpfs", "/srv/www", "--", "sh", "-c", "ls /srv/www | wc -l"], rootfs=tmp_rootfs, user=as_user, check=0)
    assert p.stdout.strip() == "0"  # without tmpcopyup the tmpfs starts empty (docker's behaviour)
    assert_unchanged(before, tmp_rootfs)


def test_rootless_tmpfs_owner_must_be_mappable(tmp_rootfs):
    from conftest import UNPRIV_UID
    p = run(["--tmpfs", "/srv:uid=0", "--", "true"], rootfs=tmp_rootfs, user=UNPRIV_UID)
    assert p.returncode == 125 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "cannot be mapped in a rootless user namespace" in p.stderr
    p = hardrun("run", "--rootfs", tmp_rootfs, "--tmpfs", "/srv:uid=abc", "--", "true")
    assert p.returncode == 125 and "is not a numeric uid" in p.stderr, p.stderr


def test_named_volume_is_filled_from_the_image_once_and_persists(tmp_rootfs, as_user, shared_dir):
    os.makedirs(os.path.join(tmp_rootfs, "srv/www"))
    with open(os.path.join(tmp_rootfs, "srv/www/index.html"), "w") as f:
        f.write("hello\n")
    os.chown(os.path.join(tmp_rootfs, "srv/www"), 10001, 10001)
    os.chown(os.path.join(tmp_rootfs, "srv/www/index.html"), 10001, 10001)
    vols = os.path.join(shared_dir, "volumes")
    if as_user is not None:
        os.chown(shared_dir, as_user, as_user)  # the rootless user's own volumes directory
    before = snapshot(tmp_rootfs)
    args = ["--volumes-dir", vols, "-v", "web:/srv/www"]
    p = run(args + ["--", "sh", "-c", "cat /srv/www/index.html; echo more >> /srv/www/index.html; "
                    "grep ' /srv/www ' /proc/self/mountinfo"], rootfs=tmp_rootfs, user=as_user, check=0)
    lines = p.stdout.splitlines()
    assert lines[0] == "hello", p.stdout + p.stderr
    assert "noexec" in lines[1].split(" - ")[0] and "nosuid" in lines[1]  # secure by default, like a host volume
    with open(os.path.join(vols, "web/index.html")) as f:
        assert f.read() == "hello\nmore\n"  # the write landed in the volume, on the host
    # the second run binds the volume as it is: not filled again, the write is still there
    p = run(args + ["--", "cat", "/srv/www/index.html"], rootfs=tmp_rootfs, user=as_user, check=0)
    assert p.stdout == "hello\nmore\n"
    # a volume where the image has nothing starts empty
    p = run(["--volumes-dir", vols, "-v", "empty:/data2", "--", "sh", "-c", "ls -A /data2 | wc -l"],
            rootfs=tmp_rootfs, user=as_user, check=0)
    assert p.stdout.strip() == "0"
    assert_unchanged(before, tmp_rootfs)


def test_named_volume_names_are_checked():
    p = hardrun("run", "--rootfs", ROOTFS, "-v", "../x:/x", "--", "true")
    assert p.returncode == 125 and "is neither an absolute host path nor a volume name" in p.stderr, p.stderr
    p = hardrun("run", "--rootfs", ROOTFS, "-v", "a/b:/x", "--", "true")
    assert p.returncode == 125 and "is neither an absolute host path nor a volume name" in p.stderr, p.stderr
