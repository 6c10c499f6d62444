"""The run summary says what tonight's results could not measure (bullseye.pipeline.results_notes).

A hand-made marts schema, no night: the notes are read from kpi_store_monthly and campaign_results alone.
"""

from __future__ import annotations

import duckdb

from bullseye.pipeline import results_notes


def _marts(stores: list[tuple], results: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.kpi_store_monthly (store_id VARCHAR, month DATE, revenue_target DECIMAL(18,2))")
    con.execute("CREATE TABLE marts.campaign_results (campaign_id VARCHAR, wave INT, incremental_margin DOUBLE, "
                "incremental_note VARCHAR)")
    if stores:
        con.executemany("INSERT INTO marts.kpi_store_monthly VALUES (?, ?, ?)", stores)
    if results:
        con.executemany("INSERT INTO marts.campaign_results VALUES (?, ?, ?, ?)", results)
    return con


def test_stores_without_a_target_and_waves_without_an_estimate_are_said():
    """November 2026: S1 has a target, S2 has none (its October target does not count for November), and
    'none' (orders without a store) is not a store, so 1 of 2 stores lacks a target. Of three campaign rows,
    one has an estimate; the other two are named by the first part of their note."""
    con = _marts(
        [("S1", "2026-11-01", 1000), ("S2", "2026-11-01", None), ("S2", "2026-10-01", 500),
         ("none", "2026-11-01", None)],
        [("a", 1, 12.5, None), ("b", 1, None, "holdout too small: 3 held out, fewer than incremental_min_holdout (30)"),
         ("c", None, None, "no holdout: contacts that no plan of ours explains (another tool's campaign)")])
    notes = results_notes(con, "2026-11-25")
    assert notes == [
        "store KPIs: 1 of 2 stores have no revenue target for 2026-11 (store_targets/): their attainment is NULL",
        "campaign results: 2 of 3 rows (campaign and wave) have no incremental margin or ROI (holdout too small; "
        "no holdout: see incremental_note); their roi credits all attributed margin"]


def test_nothing_is_said_when_everything_was_measured():
    """Every store has this month's target and every row its estimate: no note."""
    con = _marts([("S1", "2026-11-01", 1000)], [("a", 1, 0.0, None)])
    assert results_notes(con, "2026-11-25") == []
