"""The Debian package (issue 14, item 6): scripts/package builds $BUILD/hardrun_<version>_<arch>.deb with CPack,
lintian finds no error in it, and its control data and file list are those of a Debian package: everything under
/usr (nothing in /usr/local), the AppArmor profile as a conffile in /etc/apparmor.d, maintainer scripts that load
it only where AppArmor is enabled, the man pages gzip'ed, bash completion, a machine-readable copyright and a
changelog.Debian.gz. The .deb is not installed on this host: it is inspected with dpkg-deb, unpacked into a
temporary directory and the unpacked binary run from there (test_install's checks).

The build under test is $HARDRUN_BUILD (scripts/test sets it); the package is written to a temporary directory.
"""
import gzip
import os
import re
import shutil
import stat
import subprocess
import tarfile
import io

import pytest

from conftest import HARDRUN, ROOT
import test_install

BUILD = os.environ.get("HARDRUN_BUILD", os.path.dirname(HARDRUN))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="packages as root (cpack installs into a staging tree)")


def version():
    text = open(os.path.join(ROOT, "CMakeLists.txt")).read()
    upstream = re.search(r"project\(hardrun VERSION ([0-9.]+)", text).group(1)
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    m = re.search(r"^HARDRUN_DEB_RELEASE:STRING=(.*)$", cache, re.M)
    return f"{upstream}-{m.group(1) if m else '1'}"


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "lintian"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/setup --test installs it)")
    out = tmp_path_factory.mktemp("package")
    p = subprocess.run([os.path.join(ROOT, "scripts", "package"), "-o", str(out), "--no-lint"], capture_output=True, text=True,
                       timeout=1200, env=dict(os.environ, BUILD_DIR=BUILD))
    assert p.returncode == 0, p.stdout + p.stderr
    path = p.stdout.strip().splitlines()[-1]
    return {"path": path, "out": out}


def test_predictable_path(deb):
    out = deb["out"]
    assert deb["path"] == os.path.join(out, f"hardrun_{version()}_amd64.deb")
    assert os.readlink(os.path.join(out, "hardrun.deb")) == os.path.basename(deb["path"])


def test_lintian_finds_no_error(deb):
    # (scripts/package runs lintian too, failing on errors; the fixture skips that so lintian runs once)
    p = subprocess.run(["lintian", "--fail-on", "error", deb["path"]], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    # and no warning either: the ones that do not apply are overridden, each with its reason
    # (packaging/deb/lintian-overrides, shipped in the package as /usr/share/lintian/overrides/hardrun)
    assert not [l for l in p.stdout.splitlines() if l.startswith(("E: ", "W: "))], p.stdout


def control(deb, *fields):
    return subprocess.run(["dpkg-deb", "-f", deb["path"]] + list(fields), capture_output=True, text=True,
                          check=True).stdout


def test_control_fields(deb):
    info = subprocess.run(["dpkg-deb", "-I", deb["path"]], capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"^ ([A-Z][A-Za-z-]+): (.*)$", info, re.M))
    assert fields["Package"] == "hardrun"
    assert fields["Version"] == version()
    assert fields["Architecture"] == "amd64"
    assert fields["Section"] == "admin" and fields["Priority"] == "optional"
    assert "localhost" not in fields["Maintainer"] and "placeholder" not in fields["Maintainer"]
    # the maintainer is an author of the git history (when there is one: a source tarball has none)
    log = subprocess.run(["git", "-C", ROOT, "log", "--format=%an <%ae>"], capture_output=True, text=True)
    if log.returncode == 0 and log.stdout.strip():
        assert fields["Maintainer"] in set(log.stdout.splitlines()), fields["Maintainer"]
    assert fields["Description"].startswith("setuid-free hardened launcher")
    # the control archive: the conffile and both maintainer scripts
    for member in ("conffiles", "postinst", "postrm", "md5sums", "control"):
        assert re.search(rf"^\s+\d+ bytes,\s+\d+ lines\s+\*?\s*{member}\b", info, re.M), (member, info)
    depends = [d.strip().split()[0] for d in fields.get("Depends", "").split(",") if d.strip()]
    # exactly the packages of the shared libraries the package's binaries need (not $HARDRUN, which may be the
    # sanitizer's build): hardrun itself is a static PIE and needs none; hardrun-systemd, the systemd driver's
    # helper, links libsystemd (which Debian ships without a static archive); hardrun-probe is static
    unpacked = os.path.join(str(deb["out"]), "control-fields-root")
    subprocess.run(["dpkg-deb", "-x", deb["path"], unpacked], check=True)
    binaries = [os.path.join(unpacked, "usr", "bin", "hardrun"), os.path.join(unpacked, "usr", "libexec", "hardrun", "hardrun-systemd"),
                os.path.join(unpacked, "usr", "libexec", "hardrun", "hardrun-probe")]
    needed = set().union(*(needed_packages(b) for b in binaries))
    assert sorted(d for d in depends if d.startswith("lib")) == sorted(needed), fields
    assert "libsystemd0" in needed and not needed_packages(binaries[0]), "hardrun should be a static PIE"


def needed_packages(binary):
    """The Debian packages holding the shared libraries `binary` names in DT_NEEDED."""
    dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout
    packages = set()
    for soname in re.findall(r"^\s*NEEDED\s+(\S+)", dump, re.M):
        path = next(os.path.realpath(os.path.join(d, soname)) for d in
                    ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64")
                    if os.path.exists(os.path.join(d, soname)))
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:  # merged /usr: dpkg knows the /lib path
            owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)], capture_output=True, text=True)
        assert owner.returncode == 0, (soname, path, owner.stderr)
        packages.add(owner.stdout.split(":")[0])
    return packages


def control_file(deb, name):
    return subprocess.run(["dpkg-deb", "-I", deb["path"], name], capture_output=True, text=True, check=True).stdout


def test_conffile_and_maintainer_scripts(deb):
    assert control_file(deb, "conffiles").split() == ["/etc/apparmor.d/hardrun-default"]
    postinst = control_file(deb, "postinst")
    # dh_apparmor's logic: only on configure, only when AppArmor is enabled, never failing the install
    assert '"$1" = "configure"' in postinst
    assert "aa-enabled --quiet" in postinst and "/sys/kernel/security/apparmor" in postinst
    assert re.search(r'apparmor_parser -r -T -W "\$PROFILE" \|\| true', postinst)
    postrm = control_file(deb, "postrm")
    assert '"$1" = "purge"' in postrm and ".remove" in postrm
    for script in (postinst, postrm):
        assert script.startswith("#!/bin/sh\n") and "\nset -e\n" in script


def test_maintainer_scripts_without_apparmor(tmp_path):
    """postinst configure and postrm purge succeed, and load nothing, on a host without AppArmor (this one):
    run with a PATH whose apparmor_parser records its calls."""
    if os.path.isdir("/sys/kernel/security/apparmor"):
        pytest.skip("this host has AppArmor: the scripts would load the profile into it")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("apparmor_parser", "aa-enabled"):
        (bindir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\nexit 1\n')
        (bindir / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin")
    for script, arg in (("postinst", "configure"), ("postrm", "purge"), ("postrm", "remove")):
        p = subprocess.run(["sh", os.path.join(ROOT, "packaging", "deb", script), arg], capture_output=True,
                           text=True, env=env, timeout=30)
        assert p.returncode == 0, (script, p.stderr)
    # aa-enabled says no (exit 1): apparmor_parser is never called
    assert "apparmor_parser" not in (calls.read_text() if calls.exists() else "")


def test_maintainer_scripts_with_apparmor(tmp_path):
    """With AppArmor enabled (aa-enabled says yes) postinst configure loads the conffile with apparmor_parser
    -r -T -W, and a failing parser does not fail the install. /etc is a tmpfs holding only the profile, in a
    private mount namespace; apparmor_parser and aa-enabled are stand-ins that record their calls."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    (bindir / "aa-enabled").write_text(f'#!/bin/sh\necho "aa-enabled $*" >> {calls}\nexit 0\n')
    (bindir / "apparmor_parser").write_text(f'#!/bin/sh\necho "apparmor_parser $*" >> {calls}\nexit 1\n')
    for f in bindir.iterdir():
        f.chmod(0o755)
    script = ('mount -t tmpfs -o size=64k tmp /etc && mkdir /etc/apparmor.d && : > /etc/apparmor.d/hardrun-default '
              '&& exec /bin/sh "$0" configure')
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
                        os.path.join(ROOT, "packaging", "deb", "postinst")], capture_output=True, text=True,
                       env=dict(os.environ, PATH=f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin"), timeout=30)
    assert p.returncode == 0, p.stderr
    assert calls.read_text().splitlines() == ["aa-enabled --quiet",
                                              "apparmor_parser -r -T -W /etc/apparmor.d/hardrun-default"]


def test_cpack_refuses_a_deb_outside_usr(tmp_path):
    p = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", str(tmp_path),
                        "-D", "CPACK_PACKAGING_INSTALL_PREFIX=/usr/local"], capture_output=True, text=True, timeout=600)
    assert p.returncode != 0
    assert "hardrun's .deb installs under /usr, not '/usr/local'" in p.stdout + p.stderr
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".deb")]


def data_members(deb):
    listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb["path"]], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(listing)) as t:
        return {m.name.lstrip("./").rstrip("/"): m for m in t.getmembers()}


def test_file_list(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb["path"]], capture_output=True, text=True, check=True).stdout
    assert "/usr/local" not in listing
    members = data_members(deb)
    names = set(members)
    for path in test_install.EXPECTED + [
            "etc/apparmor.d/hardrun-default",
            "usr/share/doc/hardrun/copyright",
            "usr/share/doc/hardrun/changelog.Debian.gz",
            "usr/share/lintian/overrides/hardrun"]:
        assert path in names, path
    # only /etc/apparmor.d and /usr: nothing in /opt, /usr/local, /lib ...
    assert {n.split("/")[0] for n in names if n} <= {"etc", "usr"}, sorted(names)
    assert {n for n in names if n.startswith("etc/")} == {"etc/apparmor.d", "etc/apparmor.d/hardrun-default"}
    for name, m in members.items():
        assert m.uname == "root" and m.gname == "root", name
        if m.isfile():
            mode = stat.S_IMODE(m.mode)
            executable = name.startswith(("usr/bin/", "usr/libexec/"))
            assert mode == (0o755 if executable else 0o644), (name, oct(mode))
    # the conffile is the shipped profile, unchanged
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb["path"]], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        shipped = t.extractfile("./etc/apparmor.d/hardrun-default").read()
        changelog = gzip.decompress(t.extractfile("./usr/share/doc/hardrun/changelog.Debian.gz").read()).decode()
        copyright_ = t.extractfile("./usr/share/doc/hardrun/copyright").read().decode()
        man = t.extractfile("./usr/share/man/man1/hardrun.1.gz").read()
    assert shipped == open(os.path.join(ROOT, "profiles", "apparmor", "hardrun-default"), "rb").read()
    assert changelog.startswith(f"hardrun ({version()}) ")
    assert copyright_.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    # gzip -9n: no file name, no time stamp (reproducible), maximum compression flag
    assert man[:2] == b"\x1f\x8b" and man[3] & 0x08 == 0 and man[4:8] == b"\0\0\0\0" and man[8] == 2


def test_unpacked_package_runs(deb, tmp_path):
    """The unpacked package's binary finds its own profiles and probe (test_install's checks), not the source tree's."""
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb["path"], str(root)], check=True)
    test_install.check_layout(str(root))
    test_install.check_probe_found(str(root))
    test_install.check_systemd_helper_found(str(root), tmp_path)
    test_install.check_finds_profiles(str(root))
