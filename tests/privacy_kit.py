"""One committed demo night shared by the subject-access and list-scorecard tests: a copy, per worker, of the
run's shared demo night (tests.conftest.demo_night)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.conftest import DEMO_NIGHT, copy_home

NIGHT = DEMO_NIGHT


@functools.cache
def committed_night(demo_night: Path) -> tuple[Path, str]:
    """(home, console output) of the shared demo night, the home copied once per worker: the tests write
    subject-access files and logs beside it."""
    root = Path(tempfile.mkdtemp(prefix="bullseye-privacy-"))
    # a copy of a night's personal data (demo, but shaped as real): removed when the worker exits, not left in /tmp
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    home = copy_home(demo_night, root / "home")
    return home, (demo_night.parent / "console.txt").read_text(encoding="utf-8")
