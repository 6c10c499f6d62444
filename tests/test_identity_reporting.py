"""Keys only is never silent: a night whose match model was not trained says so in the run
summary (bullseye.pipeline.identity_run) and trips a warning in the marts quality suite
(expectations/marts.yml, identity.runs), which does not block publishing."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
import yaml

from bullseye.identity import state
from bullseye.pipeline import identity_run
from bullseye.quality import EXPECTATIONS_DIR, enforce, run_checks

KEYS_ONLY_NOTE = "keys only: 19 records to match, fewer than the 500 the match model needs to be trained"
NIGHT1, NIGHT2 = date(2026, 11, 23), date(2026, 11, 24)


def _add_run(con: duckdb.DuckDBPyConnection, as_of: date, matching: str, note: str | None) -> None:
    state.ensure(con)
    con.execute("insert into identity.runs (as_of, mode, records, matching, matching_note) values (?, ?, 19, ?, ?)",
                [as_of, "keys only" if matching == "keys only" else "retrain", matching, note])


def test_the_summary_carries_tonights_matching_note_and_only_tonights():
    con = duckdb.connect()
    _add_run(con, NIGHT1, "keys only", KEYS_ONLY_NOTE)
    _add_run(con, NIGHT2, "probabilistic", None)
    row, notes = identity_run(con, NIGHT1)
    assert row["matching"] == "keys only" and notes == [f"identity: {KEYS_ONLY_NOTE}"]
    row, notes = identity_run(con, NIGHT2)
    assert row["matching"] == "probabilistic" and notes == []
    assert identity_run(con, date(2026, 11, 25)) == ({}, [])  # no identity run that night


@pytest.fixture
def runs_suite(tmp_path):
    """The real identity.runs entry of expectations/marts.yml, alone in a suite folder."""
    marts = yaml.safe_load((EXPECTATIONS_DIR / "marts.yml").read_text(encoding="utf-8"))
    folder = tmp_path / "expectations"
    folder.mkdir()
    for layer in ("raw", "staging"):
        (folder / f"{layer}.yml").write_text(f"suite: {layer}\ntables: {{}}\n", encoding="utf-8")
    only = {"suite": "marts", "tables": {"identity.runs": marts["tables"]["identity.runs"]}}
    (folder / "marts.yml").write_text(yaml.safe_dump(only, allow_unicode=True), encoding="utf-8")
    return folder


def _check(tmp_path, folder, runs: list[tuple[date, str, str | None]]):
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    for as_of, matching, note in runs:
        _add_run(con, as_of, matching, note)
    con.close()
    return run_checks(warehouse, tmp_path / "quality", layers=("marts",), directory=folder)


def test_a_keys_only_night_warns_and_still_publishes(tmp_path, runs_suite):
    report = _check(tmp_path, runs_suite, [(NIGHT1, "probabilistic", None), (NIGHT2, "keys only", KEYS_ONLY_NOTE)])
    [warning] = report.warnings
    assert warning.table == "identity.runs" and warning.column == "matching" and warning.severity == "warning"
    assert "linked on exact keys only" in warning.note
    enforce(report)  # a warning does not block publishing


def test_a_probabilistic_night_passes_even_after_a_keys_only_one(tmp_path, runs_suite):
    report = _check(tmp_path, runs_suite, [(NIGHT1, "keys only", KEYS_ONLY_NOTE), (NIGHT2, "probabilistic", None)])
    assert [r.table for r in report.results] == ["identity.runs"]
    assert report.warnings == [] and report.results[0].success
