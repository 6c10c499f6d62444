"""Great Expectations checks per layer (raw, staging, marts), defined in ``expectations/*.yml``.

GE 1.x cannot validate DuckDB through its SQL datasource (duckdb-engine fails on
every metric, GE issue 11579), so each table is queried in DuckDB and handed to
GE's pandas datasource. The queries select only the columns the expectations
need; row-level heavy checks (keys, relationships) also run in SQL as dbt tests.

Each expectation carries a severity: a failed ``critical`` one stops the run
before publishing (``QualityError`` names it), a ``warning`` is only reported.
Data Docs are rebuilt on disk after every run.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
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
        suites[layer] = spec
    return suites


def _expectation(exp: dict):
    import great_expectations as gx

    cls_name = "".join(part.title() for part in exp["type"].split("_"))
    cls = getattr(gx.expectations, cls_name, None)
    if cls is None:
        raise ValueError(f"unknown expectation type {exp['type']}")
    meta = {"severity": exp["severity"], "note": exp.get("note", "")}
    return cls(**exp.get("kwargs", {}), meta=meta)


def _quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in ("great_expectations", "great_expectations.core", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_checks(warehouse: Path, workdir: Path, layers: tuple[str, ...] = LAYERS,
               directory: Path = EXPECTATIONS_DIR) -> QualityReport:
    """Run every suite against the warehouse; write Data Docs under ``workdir/gx``."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suites = load_suites(directory)
    workdir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(workdir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_or_update_pandas(name="bullseye_duckdb")
    report = QualityReport()
    con = connect(warehouse, read_only=True)
    try:
        for layer in layers:
            for table, tspec in (suites[layer].get("tables") or {}).items():
                name = f"{layer}__{table.replace('.', '__')}"
                df = con.execute(tspec["query"]).df()
                suite = context.suites.add_or_update(gx.ExpectationSuite(
                    name=name, expectations=[_expectation(e) for e in tspec.get("expectations", [])]))
                try:
                    asset = source.get_asset(name)
                except LookupError:
                    asset = source.add_dataframe_asset(name=name)
                try:
                    batch_def = asset.get_batch_definition("whole")
                except KeyError:
                    batch_def = asset.add_batch_definition_whole_dataframe("whole")
                vd = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
                checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
                    name=name, validation_definitions=[vd],
                    actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")]))
                result = checkpoint.run(batch_parameters={"dataframe": df})
                for vr in result.run_results.values():
                    for r in vr.results:
                        cfg = r.expectation_config
                        res = r.result or {}
                        observed = res.get("observed_value", res.get("unexpected_percent", ""))
                        report.results.append(CheckResult(
                            layer=layer, table=table, expectation=cfg.type,
                            column=cfg.kwargs.get("column"), severity=cfg.meta.get("severity", "critical"),
                            success=bool(r.success), observed=str(observed),
                            note=cfg.meta.get("note", ""),
                            ))
    finally:
        con.close()
    index = workdir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    report.data_docs = index if index.exists() else None
    return report


def enforce(report: QualityReport) -> None:
    """Raise QualityError naming every failed critical check."""
    failed = report.failed_critical
    if failed:
        lines = [f"  - {r.label} [observed {r.observed}]" + (f": {r.note}" if r.note else "") for r in failed]
        raise QualityError(f"{len(failed)} critical data quality check(s) failed:\n" + "\n".join(lines))
