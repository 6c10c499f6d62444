"""One committed demo night shared by the subject-access and list-scorecard tests: a copy, per worker, of the
run's shared demo night (tests.conftest.demo_night)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from tests.conftest import DEMO_NIGHT, copy_home

NIGHT = DEMO_NIGHT


@functools.cache
def committed_night(demo_night: Path) -> tuple[Path, str]:
    """(home, console output) of the shared demo night, the home copied once per worker: the tests write
    subject-access files and logs beside it."""
    home = copy_home(demo_night, Path(tempfile.mkdtemp(prefix="bullseye-privacy-")) / "home")
    return home, (demo_night.parent / "console.txt").read_text(encoding="utf-8")
