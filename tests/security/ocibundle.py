"""A minimal OCI bundle for the security tests: a copy of the demo rootfs and the config `hardrun spec` writes."""
import json
import os
import subprocess
import tempfile

from secutil import HARDRUN, ROOTFS


class Bundle:
    def __init__(self, base):
        self.dir = os.path.join(str(base), "bundle")
        os.makedirs(self.dir)
        subprocess.run(["cp", "-a", ROOTFS, os.path.join(self.dir, "rootfs")], check=True)
        p = subprocess.run([HARDRUN, "spec", "--bundle", self.dir], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        self.config = json.load(open(self.path))

    @property
    def path(self):
        return os.path.join(self.dir, "config.json")

    @property
    def rootfs(self):
        return os.path.join(self.dir, "rootfs")

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.config, f, indent=2)

    def args(self, *argv):
        self.config["process"]["args"] = list(argv)
        self.save()


def runtime(root, *args, timeout=60, **kw):
    """hardrun as an OCI runtime with a private --root. stdout/stderr go through files, not pipes: a created
    container keeps the stdio it was created with (as with runc), so a pipe would never see EOF."""
    cmd = [HARDRUN, "--root", str(root)] + list(args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout, **kw)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
