"""The real-images tier: fixtures in services.py. A missing image fails every test (scripts/mkimage builds it)."""
import os

import pytest

from services import IMAGE, image_snapshot, service, workdir  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _image_built():
    if not os.path.isfile(os.path.join(IMAGE, "etc", "debian_version")):
        pytest.fail(f"no image at {IMAGE}: run scripts/mkimage (scripts/test does)")
