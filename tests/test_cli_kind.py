"""The CLI fails kindly (issue 17 item 8): fast tests on bullseye.cli.main, no night.

A mistake on the command line is one line naming the mistake and exit code 2, before anything runs; an error
while running is one line (exit 1) with the traceback in the log only; options work after the subcommand;
every option says what it is for; and output that is not a terminal is not wrapped at 80 columns.
"""

from __future__ import annotations

import argparse

import duckdb
import pytest

from bullseye.cli import build_parser, main

BAD_INPUTS = [
    # (argv, what the one line must say); each used to run nothing and exit 0, or show argparse internals
    (["run", "--steps", "lod"], "unknown step(s) lod: the steps are load, build, check, publish, export, commit"),
    (["run", "--steps", "load,bild"], "unknown step(s) bild"),
    (["run", "--as-of", "2026-13-01"], "'2026-13-01' is not a date: write it as YYYY-MM-DD"),
    (["run", "--as-of", "tomorrow"], "'tomorrow' is not a date"),
    (["identity", "ack", "--as-of", "25/11/2026", "--by", "me"], "'25/11/2026' is not a date"),
    (["lists", "why", "13924681351", "--as-of", "2026-02-30"], "'2026-02-30' is not a date"),
    (["run", "--identity-mode", "fast"], "invalid choice: 'fast'"),
    (["bench", "speed"], "invalid choice: 'speed'"),
    (["demo-data", "--out", "x", "--scale", "big"], "'big' is not a number above 0"),
    (["bench", "clv", "--customers", "0"], "'0' is not a number above 0"),
    (["frob"], "invalid choice: 'frob'"),
    (["identity", "why-not", "a|1", "b|2", "--threshold", "high"], "'high' is not a probability between 0 and 1"),
    (["identity", "drift", "--last", "-3"], "'-3' is not a number above 0"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_a_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no usage block, no traceback
    assert message in lines[0]
    assert "Traceback" not in err and "fromisoformat" not in err and "Error" not in err


def test_a_user_error_while_running_is_one_line_without_traceback(tmp_path, capsys):
    """identity why-not with records not written SOURCE|ID raised a ValueError traceback: now one line, exit
    1, and the traceback goes to the log file under --home."""
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    code = main(["identity", "why-not", "foo", "bar", "--warehouse", str(wh), "--home", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: name a record as SOURCE|SOURCE_RECORD_ID"), out
    assert "Traceback" not in out + err and "ValueError" not in out + err
    assert "bullseye.log" in lines[0]
    log = (tmp_path / "logs" / "bullseye.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "ValueError" in log
    with pytest.raises(ValueError, match="SOURCE"):  # --debug: the traceback itself, after the subcommand too
        main(["identity", "why-not", "foo", "bar", "--warehouse", str(wh), "--home", str(tmp_path), "--debug"])


def test_options_are_accepted_after_subcommands():
    parse = build_parser().parse_args
    after = parse(["identity", "why-not", "a|1", "b|2", "--warehouse", "w.duckdb", "--home", "h", "--debug"])
    assert (after.warehouse, after.home, after.debug, after.action) == ("w.duckdb", "h", True, "why-not")
    before = parse(["--debug", "identity", "--warehouse", "w.duckdb", "--home", "h", "explain", "c1"])
    assert (before.warehouse, before.home, before.debug, before.customer_id) == ("w.duckdb", "h", True, "c1")
    assert parse(["identity", "explain", "c1"]).warehouse is None  # a leaf leaves the parent's default alone
    run = parse(["run", "--steps", "load,build", "--home", "h", "--as-of", "2026-11-25"])
    assert run.steps == ["load", "build"] and run.as_of.isoformat() == "2026-11-25" and run.debug is False
    why = parse(["lists", "why", "王芳", "--home", "h", "--warehouse", "w", "--as-of", "2026-06-17"])
    assert (why.person, why.home, why.warehouse, str(why.as_of)) == ("王芳", "h", "w", "2026-06-17")


def _walk(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, f"{path} {name}")
        else:
            yield path, action


def test_every_option_and_argument_has_help():
    missing = [f"{path}: {'/'.join(a.option_strings) or a.dest}" for path, a in _walk(build_parser(), "bullseye")
               if not (a.help or "").strip() or a.help == argparse.SUPPRESS]
    assert missing == []
    paths = {path for path, _ in _walk(build_parser(), "bullseye")}
    assert {"bullseye lists why", "bullseye identity why-not", "bullseye demo-data", "bullseye bench"} <= paths


def test_output_off_a_terminal_is_not_wrapped(tmp_path, capsys):
    """capsys is not a terminal, as a pipe or a scheduler's log is not: Rich used to wrap at 80 columns."""
    home = tmp_path / ("a-long-folder-name-that-makes-the-message-longer-than-eighty-columns" * 2)
    assert main(["lists", "why", "13924681351", "--home", str(home)]) == 1
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) > 200, out
    assert str(home / "warehouse" / "bullseye.duckdb") in lines[0]
    assert "\x1b[" not in out  # no colour codes either


def test_errors_are_plain_sentences_without_class_names_or_errno():
    """What the user reads when a command fails: the message itself, never `OSError: [Errno 28] ...`."""
    import errno

    from bullseye.cli import _plain

    assert _plain(OSError(errno.ENOSPC, "No space left on device", "/x/exports")) == \
        "No space left on device: /x/exports"
    assert _plain(FileNotFoundError("no warehouse at w")) == "no warehouse at w"
    assert _plain(KeyError("no setting 'x'")) == "no setting 'x'"
    assert _plain(ValueError("first line\nsecond line")) == "first line"
