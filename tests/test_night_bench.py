"""bullseye.night_bench: each step's peak memory is its own (VmHWM reset between steps), not the maximum so far.

Why the answer is right: the first step fills a 300 MB array (np.ones writes every page, so all of it is
resident) and frees it on return (an array that size is its own mapping, given back to the OS); the second
step allocates nothing, so its peak is the resident size after the free, at least 250 MB below the first's.
"""

from __future__ import annotations

import numpy as np

from bullseye.night_bench import measure, reset_peak


def test_each_step_has_its_own_peak_and_its_rows_per_second():
    assert reset_peak(), "this kernel cannot reset the peak-memory mark"
    big = measure("big", lambda: float(np.ones(300 * 2**20 // 8).sum()), rows=1_000)
    small = measure("small", lambda: None)
    assert big.peak_rss_mb - small.peak_rss_mb > 250, (big, small)
    # seconds are rounded to the millisecond and rows per second to 0.1
    assert 1_000 / (big.seconds + 0.0005) - 0.05 <= big.rows_per_second <= 1_000 / (big.seconds - 0.0005) + 0.05
    assert big.start_rss_mb < big.peak_rss_mb
    assert small.rows_per_second is None


def test_the_spill_watch_sees_what_duckdb_spilled_during_a_step_and_nothing_in_the_next(tmp_path):
    """A sort of 8M rows under a 100 MiB memory limit must spill (its data is ~400 MB); DuckDB deletes the
    files when the query ends, so only the watch's samples know it happened. A step that runs no query
    spills nothing."""
    import duckdb

    from bullseye.night_bench import SpillWatch

    folder = tmp_path / "warehouse"
    folder.mkdir()
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("SET memory_limit = '100MiB'; SET threads = 1; SET preserve_insertion_order = false")

    def sort() -> None:
        con.execute("CREATE TABLE t AS SELECT i, md5(i::varchar) AS m FROM range(8000000) r(i) ORDER BY m")

    try:
        with SpillWatch(folder, every=0.05) as spill:
            spilled = measure("sort", sort, spill=spill)
            idle = measure("idle", lambda: None, spill=spill)
    finally:
        con.close()
    assert spilled.peak_spill_mb > 50, spilled
    assert idle.peak_spill_mb == 0.0
    assert measure("unwatched", lambda: None).peak_spill_mb is None


# --- fixed overheads (issue 18): each probe reports a figure, and the figures are sane (no timing thresholds) --------

def test_dbt_start_and_finish_come_from_this_invocations_run_results(tmp_path):
    """From the call to dbt's start, from its start to the first node (any timing entry), from the last node to the
    return; a run_results.json older than the call (dbt failed before writing one) gives nothing."""
    import json
    from datetime import UTC, datetime, timedelta

    from bullseye.night_bench import dbt_start_finish

    called = datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC)
    results = {"metadata": {"invocation_started_at": "2026-11-24T01:00:02Z"}, "results": [
        {"timing": [{"name": "compile", "started_at": "2026-11-24T01:00:12Z", "completed_at": "2026-11-24T01:00:13Z"},
                    {"name": "execute", "started_at": "2026-11-24T01:00:13Z", "completed_at": "2026-11-24T01:00:20Z"}]},
        {"timing": [{"name": "compile", "started_at": "2026-11-24T01:00:10.5Z",
                     "completed_at": "2026-11-24T01:00:11Z"}]},
        {"timing": []}]}
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(results))
    assert dbt_start_finish(path, called, called + timedelta(seconds=21)) == (2.0, 8.5, 1.0)
    assert dbt_start_finish(path, called + timedelta(minutes=5), called + timedelta(minutes=6)) is None  # stale
    assert dbt_start_finish(tmp_path / "none.json", called, called) is None


def test_probes_time_dbt_ge_and_pytensor_through_the_functions_the_night_calls(tmp_path, monkeypatch):
    """The probes wrap bullseye.transform.run_dbt and bullseye.quality.run_checks, and pytensor's FunctionMaker once
    pytensor is imported; a compiled pytensor function, a GE context and a (fake) dbt run each give a figure with
    a count, seconds >= 0, and nothing stays patched after uninstall."""
    import json
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from bullseye import quality, transform
    from bullseye.night_bench import FixedProbes

    def fake_dbt(cfg, command="build", *extra):  # writes run_results.json as dbt does, 0.2 s before its first node
        now = datetime.now(UTC)
        stamp = lambda s: (now + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        (cfg.dbt_target / "run_results.json").write_text(json.dumps({
            "metadata": {"invocation_started_at": stamp(0)},
            "results": [{"timing": [{"started_at": stamp(0.2), "completed_at": stamp(0.3)}]}]}))
        return []

    def fake_checks(warehouse, workdir, **kwargs):
        import great_expectations as gx

        gx.get_context(mode="ephemeral")
        return "report"

    monkeypatch.setattr(transform, "run_dbt", fake_dbt)
    monkeypatch.setattr(quality, "run_checks", fake_checks)
    probes = FixedProbes().install()
    try:
        cfg = SimpleNamespace(dbt_target=tmp_path)
        transform.run_dbt(cfg, "build", "--select", "x")
        (tmp_path / "partial_parse.msgpack").write_bytes(b"")
        transform.run_dbt(cfg, "build")
        assert quality.run_checks(tmp_path / "wh.duckdb", tmp_path / "q") == "report"
        import pytensor
        import pytensor.tensor as pt

        x = pt.dvector("x")
        assert pytensor.function([x], (x ** 2).sum())([1.0, 2.0]) == 5.0
    finally:
        probes.uninstall()
    figures = {f.what: f for f in probes.figures()}
    assert set(figures) == {"dbt start and parse", "dbt finish", "pytensor compilation", "GE import and context"}
    dbt = figures["dbt start and parse"]
    assert (dbt.step, dbt.count) == ("build", 2) and dbt.seconds >= 0.39, dbt  # 0.2 s before each first node
    assert "full parse" in dbt.detail and "partial parse" in dbt.detail
    assert figures["pytensor compilation"].count >= 1 and figures["pytensor compilation"].seconds > 0
    ge = figures["GE import and context"]
    # counted once, in the check step; its seconds may round to 0.00 where an earlier test of this process has
    # already imported GE (an ephemeral context alone takes milliseconds)
    assert (ge.step, ge.count) == ("check", 1) and ge.seconds >= 0 and "get_context" in ge.detail, ge
    assert transform.run_dbt is fake_dbt and quality.run_checks is fake_checks  # unwrapped
    from pytensor.compile.function.types import FunctionMaker

    assert not hasattr(FunctionMaker.create, "__wrapped__")


def test_airflow_task_start_parses_the_dag_in_a_fresh_process(tmp_path):
    """Python start, import airflow and the DAG file parsed: seconds that add up, and the DAG's task count."""
    import re

    import pytest

    from bullseye.config import compiled_manifest
    from bullseye.night_bench import airflow_task_start

    if not compiled_manifest().exists():
        pytest.skip("no compiled dbt manifest (bullseye dbt-manifest)")
    fig = airflow_task_start(tmp_path)
    assert fig is not None and fig.step == "airflow" and fig.count > 10, fig
    parts = [float(v) for v in re.findall(r"(\d+\.\d+)s", fig.detail)]
    assert len(parts) == 3 and all(v >= 0 for v in parts) and abs(sum(parts) - fig.seconds) < 0.05, fig


# --- targets (issue 18): met, or missed with the step that misses them and why ------------------------------------

def test_a_missed_target_names_the_largest_step_its_fixed_costs_and_dbts_slowest_nodes():
    from bullseye.night_bench import FixedFigure, NightFigures, StepFigure, check_targets

    fig = NightFigures(scale=10, as_of="2026-11-24", total_seconds=157.4, peak_rss_mb=3376.0, steps=[
        StepFigure("start and wind-down", 3.0, None), StepFigure("load", 31.3, 900.0),
        StepFigure("build", 91.1, 3376.0), StepFigure("export", 14.1, 1200.0)],
        fixed=[FixedFigure("build", "dbt start and parse", 4.6, 2), FixedFigure("check", "GE import", 2.6)],
        slowest_nodes=[("model int_orders__category_associations", 9.7), ("model int_activation__decisions", 9.2)])
    (line,) = check_targets(fig)
    assert line.startswith("target missed: night 157.4 s > 60 s; the largest step is build, 91.1 s (58%)")
    assert "fixed in it: dbt start and parse 4.6 s" in line and "GE import" not in line
    assert "dbt's slowest: model int_orders__category_associations 9.7 s, model int_activation__decisions" in line

    fig.total_seconds = 59.0
    assert check_targets(fig) == ["target met: night 59.0 s <= 60 s"]
    # scale 100 has a memory target too, and the next night its own time target
    fig.scale, fig.total_seconds, fig.peak_rss_mb = 100, 80.0, 13_400.0
    time_line, memory_line = check_targets(fig, next_night=True)
    assert time_line == "target met: next night 80.0 s <= 90 s"
    assert memory_line.startswith("target missed: next night peak memory 13,400 MB > 12,000 MB, in build")
    fig.scale = 3
    assert check_targets(fig)[0].startswith("no target for scale 3")


def test_node_seconds_reads_each_nodes_time_from_run_results(tmp_path):
    import json

    from bullseye.night_bench import node_seconds

    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({"results": [
        {"unique_id": "model.bullseye.int_customer__rfm", "execution_time": 3.456},
        {"unique_id": "test.bullseye.unique_fct_orders_order_key.6f1e2", "execution_time": 0.5},
        {"unique_id": "unit_test.bullseye.int_customer__rfm.rfm_quintiles", "execution_time": None}]}))
    assert node_seconds(path) == [("model int_customer__rfm", 3.46), ("test unique_fct_orders_order_key", 0.5),
                                  ("unit_test rfm_quintiles", 0.0)]
    assert node_seconds(tmp_path / "missing.json") == []
