"""Great Expectations checks per layer (raw, staging, marts), defined in ``expectations/*.yml``.

GE 1.x cannot validate DuckDB through its SQL datasource (duckdb-engine fails on
every metric, GE issue 11579), so each table is queried in DuckDB and handed to
GE's pandas datasource. The queries select only the columns the expectations
need; row-level heavy checks (keys, relationships) also run in SQL as dbt tests.

Each expectation carries a severity: a failed ``critical`` one stops the run
before publishing (``QualityError`` names it), a ``warning`` is only reported.
A table with ``row_count_max_change: S`` also gets a warning when its query
returns more than a share S fewer or more rows than last night (counts kept in
``meta.quality_row_counts``).

Where the results go, each night:
- Data Docs under ``<quality dir>/gx`` (suites and assets named by table, runs by
  run date, severity and note printed under each check). GE loads their CSS/JS
  from a CDN, so offline they show unstyled;
- ``<quality dir>/quality.html``: the same checks on one self-contained page;
- ``meta.quality_results`` in the warehouse, one row per check and night:
  run_date, layer (raw/staging/marts), table_name (schema.table), suite (the GE
  suite: the same name), check_type (GE expectation type), column_name (NULL for
  table checks), severity (critical/warning), success, observed (GE's observed
  value, or the unexpected share as ``N% unexpected``), note (why the check matters), checked_at.
  The night's report and BI tools read it; a re-run of a night replaces its rows.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

import yaml

from bullseye.warehouse import connect

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"
LAYERS = ("raw", "staging", "marts")
log = logging.getLogger(__name__)


class QualityError(RuntimeError):
    """A critical expectation failed; the message names every failing check."""


@dataclass
class CheckResult:
    layer: str
    table: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: str
    note: str = ""

    @property
    def label(self) -> str:
        col = f"({self.column})" if self.column else ""
        return f"{self.table}: {self.expectation}{col}"


@dataclass
class QualityReport:
    results: list[CheckResult] = field(default_factory=list)
    data_docs: Path | None = None
    page: Path | None = None

    @property
    def failed_critical(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity != "critical"]


def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    """Read and validate the suite files; a malformed file fails before any check runs."""
    suites = {}
    for layer in LAYERS:
        path = directory / f"{layer}.yml"
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for table, tspec in (spec.get("tables") or {}).items():
            if "query" not in tspec:
                raise ValueError(f"{path}: table {table} has no query")
            for exp in tspec.get("expectations", []):
                if exp.get("severity") not in ("critical", "warning"):
                    raise ValueError(f"{path}: {table} {exp.get('type')}: severity must be critical or warning")
            change = tspec.get("row_count_max_change")
            if change is not None and not (isinstance(change, (int, float)) and change > 0):
                raise ValueError(f"{path}: {table}: row_count_max_change must be a positive share, got {change!r}")
        suites[layer] = spec
    return suites


def _expectation(exp: dict):
    """A GE expectation with our severity and note in GE's own ``severity`` and ``notes`` fields (Data Docs
    print the notes, as markdown, under the check) and in ``meta``, where the results are read back."""
    import great_expectations as gx

    cls_name = "".join(part.title() for part in exp["type"].split("_"))
    cls = getattr(gx.expectations, cls_name, None)
    if cls is None:
        raise ValueError(f"unknown expectation type {exp['type']}")
    note = exp.get("note", "")
    shown = f"**{exp['severity']}**" + (f": {note}" if note else "")
    meta = {"severity": exp["severity"], "note": note}
    return cls(**exp.get("kwargs", {}), meta=meta, notes=shown, severity=exp["severity"])


def _quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in ("great_expectations", "great_expectations.core", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _last_counts(con, run_date: str) -> dict[str, int]:
    """Row counts stored by the latest earlier night (meta.quality_row_counts); empty on a first night."""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' "
                       "AND table_name = 'quality_row_counts'").fetchone()[0]:
        return {}
    rows = con.execute("""
        SELECT table_name, row_count FROM meta.quality_row_counts
        WHERE run_date = (SELECT max(run_date) FROM meta.quality_row_counts WHERE run_date < ?)""",
                       [run_date]).fetchall()
    return dict(rows)


def row_count_expectation(table: str, max_change: float, last: int | None) -> dict:
    """Tonight's row count within ``max_change`` (a share) of last night's, as a warning: a mart that
    halves or doubles overnight is worth a look, but a real night can do it (a big first delivery),
    so it never stops the run. Without an earlier night the check says so and passes."""
    if last is None:
        return {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 0},
                "severity": "warning", "note": f"no count of {table} from an earlier night to compare with"}
    low, high = math.floor(last * (1 - max_change)), math.ceil(last * (1 + max_change))
    return {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": low, "max_value": high},
            "severity": "warning",
            "note": f"rows within {max_change:.0%} of last night's {last:,} (row_count_max_change in expectations/)"}


RESULTS_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.quality_results (
    run_date DATE, layer VARCHAR, table_name VARCHAR, suite VARCHAR, check_type VARCHAR,
    column_name VARCHAR, severity VARCHAR, success BOOLEAN, observed VARCHAR, note VARCHAR,
    checked_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS meta.quality_row_counts (run_date DATE, table_name VARCHAR, row_count BIGINT);
"""


def store_results(warehouse: Path, run_date: str, report: QualityReport, counts: dict[str, int]) -> None:
    """Write tonight's check results and row counts into the warehouse (meta.quality_results,
    meta.quality_row_counts), replacing an earlier attempt of the same night, so that the night's report
    and BI tools read the checks with their severity and notes, and tomorrow compares its counts."""
    rows = [(run_date, r.layer, r.table, r.table, r.expectation, r.column, r.severity, r.success,
             r.observed, r.note) for r in report.results]
    con = connect(warehouse)
    try:
        con.execute(RESULTS_DDL)
        con.execute("BEGIN")
        con.execute("DELETE FROM meta.quality_results WHERE run_date = ?", [run_date])
        con.execute("DELETE FROM meta.quality_row_counts WHERE run_date = ?", [run_date])
        if rows:
            con.executemany("INSERT INTO meta.quality_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())", rows)
        if counts:
            con.executemany("INSERT INTO meta.quality_row_counts VALUES (?, ?, ?)",
                            [(run_date, t, n) for t, n in counts.items()])
        con.execute("COMMIT")
    finally:
        con.close()


def run_checks(warehouse: Path, workdir: Path, layers: tuple[str, ...] = LAYERS,
               directory: Path = EXPECTATIONS_DIR, run_date: date | str | None = None) -> QualityReport:
    """Run every suite against the warehouse; write Data Docs under ``workdir/gx``, the results into
    the warehouse's meta.quality_results and a self-contained ``workdir/quality.html``.

    Suites and data assets are named by table (``marts.target_lists``) and GE runs by the run date,
    so that Data Docs read as the night they describe."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    run_date = str(run_date or date.today())
    run_id = RunIdentifier(run_name=run_date, run_time=datetime.now(UTC))
    suites = load_suites(directory)
    workdir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(workdir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_or_update_pandas(name="bullseye_duckdb")
    report = QualityReport()
    counts: dict[str, int] = {}
    con = connect(warehouse, read_only=True)
    try:
        last = _last_counts(con, run_date)
        con.execute("SET VARIABLE bz_night = ?", [run_date])  # the night the suites' queries see
        for layer in layers:
            for table, tspec in (suites[layer].get("tables") or {}).items():
                df = con.execute(tspec["query"]).df()
                specs = list(tspec.get("expectations", []))
                if "row_count_max_change" in tspec:
                    counts[table] = len(df)
                    specs.append(row_count_expectation(table, float(tspec["row_count_max_change"]),
                                                       last.get(table)))
                suite = context.suites.add_or_update(gx.ExpectationSuite(
                    name=table, expectations=[_expectation(e) for e in specs]))
                try:
                    asset = source.get_asset(table)
                except LookupError:
                    asset = source.add_dataframe_asset(name=table)
                try:
                    batch_def = asset.get_batch_definition("whole")
                except KeyError:
                    batch_def = asset.add_batch_definition_whole_dataframe("whole")
                vd = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=table, data=batch_def, suite=suite))
                checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
                    name=table, validation_definitions=[vd],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")]))
                result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
                for vr in result.run_results.values():
                    for r in vr.results:
                        cfg = r.expectation_config
                        res = r.result or {}
                        observed = _observed(res)
                        report.results.append(CheckResult(
                            layer=layer, table=table, expectation=cfg.type,
                            column=cfg.kwargs.get("column"), severity=cfg.meta.get("severity", "critical"),
                            success=bool(r.success), observed=observed,
                            note=cfg.meta.get("note", ""),
                            ))
    finally:
        con.close()
    store_results(warehouse, run_date, report, counts)
    index = workdir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    report.data_docs = index if index.exists() else None
    report.page = write_page(workdir / "quality.html", run_date, report)
    return report


def _observed(result: dict) -> str:
    """What GE saw, as text: its observed value (a row count, a statistic), else the unexpected share of
    rows (``0.5% unexpected``) for the row-by-row checks."""
    if "observed_value" in result:
        value = result["observed_value"]
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    if "unexpected_percent" in result:
        return f"{result['unexpected_percent'] or 0:.4g}% unexpected"
    return ""


def write_page(path: Path, run_date: str, report: QualityReport) -> Path:
    """A self-contained page of tonight's checks (no CDN, no script): GE's Data Docs load Bootstrap and
    jQuery from a CDN and show a blank index offline, so this page is the one to open without network."""
    failed = [r for r in report.results if not r.success]
    rows = "\n".join(
        f"<tr class='{'ok' if r.success else r.severity}'><td>{escape(r.table)}</td>"
        f"<td>{escape(r.expectation)}</td><td>{escape(r.column or '')}</td><td>{escape(r.severity)}</td>"
        f"<td>{'passed' if r.success else 'FAILED'}</td><td>{escape(r.observed)}</td><td>{escape(r.note)}</td></tr>"
        for r in sorted(report.results, key=lambda r: (r.success, r.severity != "critical", r.table)))
    path.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Quality checks {escape(run_date)}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}
tr.critical td{{background:#fdd}} tr.warning td{{background:#ffe9b3}} th{{background:#eee}}
</style></head><body><h1>Quality checks of {escape(run_date)}</h1>
<p>{len(report.results)} checks: {len(report.results) - len(failed)} passed, {len(report.failed_critical)} critical
failed, {len(report.warnings)} warnings. A failed critical check stops the night before publishing.
The same rows are in the warehouse table <code>meta.quality_results</code>.</p>
<table><thead><tr><th>table</th><th>check</th><th>column</th><th>severity</th><th>result</th><th>observed</th>
<th>notes</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
""", encoding="utf-8")
    return path


def enforce(report: QualityReport) -> None:
    """Raise QualityError naming every failed critical check."""
    failed = report.failed_critical
    if failed:
        lines = [f"  - {r.label} [observed {r.observed}]" + (f": {r.note}" if r.note else "") for r in failed]
        raise QualityError(f"{len(failed)} critical data quality check(s) failed:\n" + "\n".join(lines))
