"""The security regression suite shares the integration tests' fixtures (as_user, tmp_rootfs) and helpers.

tests/integration/conftest.py is loaded by secutil under its own module name, so both directories can be
collected in one pytest session; the test modules here import their helpers from `secutil`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

import secutil  # noqa: E402

# Everything tests/integration/conftest.py defines, re-exported: its fixtures (as_user, tmp_rootfs...) for the
# tests here, and its helpers for the integration test modules' `from conftest import ...`, which may resolve to
# this module when pytest collects both directories in one session.
globals().update({k: v for k, v in vars(secutil._ic).items() if not k.startswith("__")})


@pytest.fixture
def host_dir():
    """A scratch directory on the host that the unprivileged test uid can reach too (pytest's tmp_path is
    private to root), removed afterwards."""
    base = tempfile.mkdtemp(prefix="hardrun-sec-")
    os.chmod(base, 0o755)
    yield __import__("pathlib").Path(base)
    shutil.rmtree(base, ignore_errors=True)
