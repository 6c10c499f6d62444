"""The night report's pieces that need no night: the quality results it reads and how it writes numbers.

The whole page is tested in a real browser on the demo night (tests/test_pipeline.py,
test_night_report_opens_offline_and_matches_the_marts)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bullseye.activation.report import _cell, quality_results


def _validation(root: Path, suite: str, run_time: str, success: bool, severity: str, note: str) -> None:
    """One GE 1.x validation result file, laid out as a checkpoint stores it."""
    folder = root / "gx" / "uncommitted" / "validations" / suite / "__none__" / run_time.replace(":", "")
    folder.mkdir(parents=True)
    doc = {"suite_name": suite, "success": success,
           "meta": {"run_id": {"run_name": None, "run_time": run_time}, "validation_time": run_time},
           "results": [{"success": success, "result": {"observed_value": 12},
                        "expectation_config": {"type": "expect_table_row_count_to_be_between",
                                               "kwargs": {"batch_id": "x"},
                                               "meta": {"severity": severity, "note": note}}}]}
    (folder / f"bullseye_duckdb-{suite}.json").write_text(json.dumps(doc), encoding="utf-8")


def test_quality_results_keep_each_suites_latest_run_and_leave_out_suites_the_last_pass_skipped(tmp_path):
    """Suite a ran twice: only the later (failed, warning) result counts, with the note from its meta.
    Suite b ran in the same pass. Suite old last ran a day earlier (a suite since renamed), so it is
    left out and named, instead of showing yesterday's answer as tonight's."""
    _validation(tmp_path, "a", "2026-11-24T02:00:00+00:00", True, "critical", "")
    _validation(tmp_path, "a", "2026-11-25T02:00:00+00:00", False, "warning", "rows against last night")
    _validation(tmp_path, "b", "2026-11-25T02:00:05+00:00", True, "critical", "")
    _validation(tmp_path, "old", "2026-11-24T02:00:01+00:00", True, "critical", "")
    stale: list[str] = []
    df = quality_results(tmp_path, stale)
    assert list(df["suite"]) == ["a", "b"] and stale == ["old"]
    a = df.iloc[0]
    assert (a["success"], a["severity"], a["note"], a["observed"]) == (False, "warning", "rows against last night",
                                                                      "12")
    assert quality_results(tmp_path / "missing").empty


def test_cells_read_as_a_marketer_expects():
    """Counts that pandas turned into floats (a sum with NULLs) read as integers; dates lose the midnight
    DuckDB gives them; NULLs are blank, not 'None' or '<NA>'."""
    assert _cell(3445.0) == "3,445"
    assert _cell(Decimal("51158.70")) == "51,158.70"
    assert _cell(0.18801) == "0.188"
    assert _cell(pd.Timestamp(date(2026, 11, 24))) == "2026-11-24"
    assert [_cell(v) for v in (None, pd.NA, float("nan"))] == ["", "", ""]
    assert _cell(True) == "true" and _cell("ST009") == "ST009"
