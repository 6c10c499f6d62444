"""The nightly job as five idempotent steps: load, build, check, publish, export.

``bullseye run`` calls them in-process in this order; the Airflow DAG calls the
same functions as tasks (dbt there runs through Cosmos). Each step reads its
inputs from the warehouse, so any step can be retried on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bullseye.config import RunConfig
from bullseye.ingest import LoadReport, ensure_schema, load_landing
from bullseye.ingest.sources import REQUIRED_SOURCES
from bullseye.warehouse import connect

log = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """A step cannot go on; the message says which and why."""


@dataclass
class NightSummary:
    as_of: str
    deliveries_new: int = 0
    deliveries_skipped: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    values_quarantined: int = 0
    people: int = 0
    customers: int = 0
    identity: dict = field(default_factory=dict)
    orders: int = 0
    checks_passed: int = 0
    checks_warned: int = 0
    lists: dict[str, int] = field(default_factory=dict)
    published: str = ""
    data_docs: str = ""


def check_campaigns(cfg: RunConfig):
    """Invalid campaign definitions stop the night before anything runs (bullseye.activation.campaigns)."""
    from bullseye.activation.campaigns import CampaignError, load_campaigns

    try:
        return load_campaigns(cfg.campaigns)
    except CampaignError as e:
        raise PipelineError(f"campaigns in {cfg.campaigns}: {e}") from e


def step_load(cfg: RunConfig, summary: NightSummary | None = None) -> LoadReport:
    check_campaigns(cfg)
    if not cfg.landing.is_dir():
        raise PipelineError(f"landing zone {cfg.landing} does not exist")
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = connect(cfg.warehouse)
    try:
        report = load_landing(con, cfg.landing, cfg.run_id)
        empty = [s for s in REQUIRED_SOURCES
                 if con.execute(f"SELECT count(*) FROM raw.{s}").fetchall()[0][0] == 0]
    finally:
        con.close()
    if empty:
        raise PipelineError(f"no usable {' or '.join(empty)} rows: put deliveries in "
                            + ", ".join(str(cfg.landing / s) + "/" for s in empty))
    if summary is not None:
        summary.deliveries_new = len(report.new_deliveries)
        summary.deliveries_skipped = len(report.deliveries) - len(report.new_deliveries)
        summary.rows_in = report.total("rows_in")
        summary.rows_loaded = report.total("rows_loaded")
        summary.rows_quarantined = report.total("rows_quarantined")
        summary.values_quarantined = report.total("values_quarantined")
    return report


def step_build(cfg: RunConfig, summary: NightSummary | None = None):
    from bullseye.transform import run_dbt

    check_campaigns(cfg)
    con = connect(cfg.warehouse)
    try:
        ensure_schema(con)  # raw tables exist even for sources never delivered
    finally:
        con.close()
    nodes = run_dbt(cfg, "build")
    if summary is not None:
        con = connect(cfg.warehouse, read_only=True)
        try:
            summary.people, summary.customers = con.execute(
                "SELECT count(*), count(*) FILTER (is_customer) FROM marts.dim_customer").fetchall()[0]
            summary.orders = con.execute("SELECT count(*) FROM marts.fct_orders").fetchall()[0][0]
            night = con.execute("SELECT * FROM identity.runs WHERE as_of = ?", [cfg.as_of]).df()
            summary.identity = night.iloc[0].to_dict() if len(night) else {}
        finally:
            con.close()
    return nodes


def step_check(cfg: RunConfig, summary: NightSummary | None = None):
    from bullseye.quality import enforce, run_checks

    report = run_checks(cfg.warehouse, cfg.quality_dir)
    if summary is not None:
        summary.checks_passed = sum(r.success for r in report.results)
        summary.checks_warned = len(report.warnings)
        summary.data_docs = str(report.data_docs or "")
    enforce(report)
    return report


def step_publish(cfg: RunConfig, summary: NightSummary | None = None) -> dict[str, int]:
    from bullseye.identity.drift import blocking_reason
    from bullseye.publish import publish

    con = connect(cfg.warehouse)
    try:
        reason = blocking_reason(con, cfg.as_of)
    finally:
        con.close()
    if reason:
        raise PipelineError(
            f"identity drift blocks publishing of {cfg.as_of}: {reason}. Review it with `bullseye identity drift`, "
            f"then `bullseye identity ack --as-of {cfg.as_of} --by NAME` and run the publish and export steps again "
            f"(`bullseye run --as-of {cfg.as_of} --steps publish,export`).")
    counts = publish(cfg.warehouse, cfg.published, cfg.run_id)
    if summary is not None:
        summary.published = str(cfg.published)
    return counts


def step_export(cfg: RunConfig, summary: NightSummary | None = None) -> dict[str, int]:
    from bullseye.activation.exports import export_lists

    campaigns, _ = check_campaigns(cfg)
    written = export_lists(cfg.warehouse, cfg.as_of, cfg.exports, campaigns)
    if summary is not None:
        summary.lists = written
    return written


STEPS = (("load", step_load), ("build", step_build), ("check", step_check),
         ("publish", step_publish), ("export", step_export))
