"""Quality checks on small hand-made warehouses: names in Data Docs, severities and notes where people read
them, the results table the night stores, and row counts against last night."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from bullseye.quality import EXPECTATIONS_DIR, LAYERS, load_suites, run_checks

SUITE = {
    "suite": "marts",
    "tables": {
        "marts.t": {
            "query": "SELECT id, share FROM marts.t",
            "row_count_max_change": 0.5,
            "expectations": [
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}, "severity": "critical"},
                {"type": "expect_column_values_to_be_between",
                 "kwargs": {"column": "share", "min_value": 0, "max_value": 1},
                 "severity": "warning", "note": "a share is 0-1"},
            ],
        },
    },
}


def _world(tmp_path: Path, rows: int, bad_share: bool = False) -> tuple[Path, Path]:
    """A warehouse with one mart of ``rows`` rows (ids 1..rows, share 0.5, or 1.5 on the first row), and
    suite files naming only it (raw and staging empty)."""
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE OR REPLACE TABLE marts.t AS "
                f"SELECT i AS id, CASE WHEN i = 1 AND {bad_share} THEN 1.5 ELSE 0.5 END AS share "
                f"FROM range(1, {rows} + 1) r(i)")
    con.close()
    suites = tmp_path / "expectations"
    suites.mkdir(exist_ok=True)
    for layer in LAYERS:
        spec = SUITE if layer == "marts" else {"suite": layer, "tables": {}}
        (suites / f"{layer}.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return wh, suites


def _results(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("SELECT run_date::VARCHAR, table_name, suite, check_type, column_name, severity, success, "
                           "observed, note FROM meta.quality_results ORDER BY run_date, check_type").fetchall()
    finally:
        con.close()


def test_names_severity_and_notes_reach_data_docs_the_page_and_the_results_table(tmp_path):
    """One mart, 10 rows, one share out of range. The unique check passes (ids 1..10), the range check fails
    with 10% unexpected; it is a warning, so only reported. The suite, asset and run must carry the table's name
    and the run date, not GE's `__none__`/`None` or a doubled `marts__marts__` prefix, and the severity and note
    must be in GE's severity and notes fields (Data Docs print the notes), in quality.html and in
    meta.quality_results."""
    wh, suites = _world(tmp_path, 10, bad_share=True)
    report = run_checks(wh, tmp_path / "q", directory=suites, run_date="2026-11-25")
    assert [(r.expectation, r.severity, r.success) for r in report.results] == [
        ("expect_column_values_to_be_unique", "critical", True),
        ("expect_column_values_to_be_between", "warning", False),
        ("expect_table_row_count_to_be_between", "warning", True)]
    gx_dir = tmp_path / "q" / "gx"
    suite = json.loads((gx_dir / "expectations" / "marts" / "t.json").read_text())  # GE files a dotted name in folders
    assert suite["name"] == "marts.t"
    assert {(e["severity"], e["notes"]) for e in suite["expectations"]} >= {("warning", "**warning**: a share is 0-1")}
    runs = list((gx_dir / "uncommitted" / "validations" / "marts" / "t").iterdir())
    assert [p.name for p in runs] == ["2026-11-25"]
    validation = json.loads(next(runs[0].rglob("*.json")).read_text())
    assert validation["meta"]["run_id"]["run_name"] == "2026-11-25"
    assert validation["meta"]["active_batch_definition"]["data_asset_name"] == "marts.t"
    site = gx_dir / "uncommitted" / "data_docs" / "local_site"
    html = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert "__none__" not in html and "marts__" not in html
    assert "a share is 0-1" in html
    page = (tmp_path / "q" / "quality.html").read_text(encoding="utf-8")
    assert report.page == tmp_path / "q" / "quality.html"
    assert "a share is 0-1" in page and "FAILED" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page), "the page must open offline"
    rows = _results(wh)
    assert ("2026-11-25", "marts.t", "marts.t", "expect_column_values_to_be_between", "share", "warning", False,
            "10% unexpected", "a share is 0-1") in rows
    assert len(rows) == 3


def test_row_count_is_checked_against_last_night_and_a_rerun_replaces_the_night(tmp_path):
    """Night 1 (10 rows) has no earlier count: its row-count check passes and says so. Night 2 with 30 rows
    against a bound of 50% (5..15) fails as a warning. Running night 2 again with 12 rows replaces its rows
    (still compared with night 1, not with its own first attempt) and passes."""
    wh, suites = _world(tmp_path, 10)
    first = run_checks(wh, tmp_path / "q", directory=suites, run_date="2026-11-24")
    count1 = next(r for r in first.results if r.expectation == "expect_table_row_count_to_be_between")
    assert count1.success and "no count of marts.t from an earlier night" in count1.note
    _world(tmp_path, 30)
    second = run_checks(wh, tmp_path / "q", directory=suites, run_date="2026-11-25")
    count2 = next(r for r in second.results if r.expectation == "expect_table_row_count_to_be_between")
    assert (count2.success, count2.severity, count2.observed) == (False, "warning", "30")
    assert "within 50% of last night's 10" in count2.note
    assert second.warnings == [count2] and not second.failed_critical
    _world(tmp_path, 12)
    again = run_checks(wh, tmp_path / "q", directory=suites, run_date="2026-11-25")
    assert all(r.success for r in again.results)
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT run_date::VARCHAR, row_count FROM meta.quality_row_counts ORDER BY 1").fetchall() == [
        ("2026-11-24", 10), ("2026-11-25", 12)]
    assert con.execute("SELECT count(*) FROM meta.quality_results WHERE run_date = '2026-11-25'").fetchone() == (3,)
    con.close()


def test_shipped_suites_name_tables_once_and_cover_what_bi_users_rely_on():
    """The shipped suites, read as the night reads them: every table is schema.table (so suite names are
    clean), and the marts carry the BI checks this issue asked for: keys, orphans against dim_customer,
    ranges of shares and probabilities, and row counts against last night."""
    suites = load_suites(EXPECTATIONS_DIR)
    marts = suites["marts"]["tables"]
    for layer in LAYERS:
        for table in suites[layer]["tables"]:
            assert re.fullmatch(r"[a-z_]+\.[a-z_]+", table), table
    def kinds(table: str) -> set[tuple[str, str | None]]:
        return {(e["type"], e["kwargs"].get("column")) for e in marts[table]["expectations"]}
    assert ("expect_column_values_to_not_be_in_set", "orphan") in kinds("marts.target_lists")
    assert ("expect_column_values_to_not_be_in_set", "orphan") in kinds("marts.fct_orders")
    assert ("expect_column_values_to_be_unique", "customer_id") in kinds("marts.customer_segments")
    assert ("expect_column_values_to_be_between", "share_of_wallet") in kinds("marts.customer_segments")
    assert ("expect_column_values_to_be_between", "p_alive") in kinds("marts.customer_clv")
    assert {t for t, s in marts.items() if "row_count_max_change" in s} >= {"marts.dim_customer", "marts.fct_orders"}


def test_a_bad_row_count_bound_fails_before_any_check(tmp_path):
    """A bound of 0 or text would make every night warn (or crash mid-run): it is refused when the files are read."""
    _, suites = _world(tmp_path, 1)
    spec = yaml.safe_load((suites / "marts.yml").read_text())
    spec["tables"]["marts.t"]["row_count_max_change"] = "half"
    (suites / "marts.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="row_count_max_change must be a positive share"):
        load_suites(suites)
