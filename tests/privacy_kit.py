"""One committed demo night shared (read-only) by the subject-access and list-scorecard tests."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

NIGHT = "2026-11-24"


@functools.cache
def committed_night(landing: Path) -> tuple[Path, str]:
    """(home, console output) of one demo night on ``landing``; run once per test session."""
    import contextlib
    import io

    from bullseye import cli

    home = Path(tempfile.mkdtemp(prefix="bullseye-privacy-")) / "home"
    out = io.StringIO()
    console, cli.console = cli.console, cli.Console(file=out, highlight=False, width=200)
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["run", "--landing", str(landing), "--as-of", NIGHT, "--home", str(home)])
    finally:
        cli.console = console
    assert code == 0, out.getvalue()
    return home, out.getvalue()
