"""The nightly job as six steps: load, build, check, publish, export, commit.

``bullseye run`` calls them in-process in this order; the Airflow DAG calls the
same functions as tasks (dbt there runs through Cosmos). A night is a transaction
(bullseye.night): load starts it on a working copy of the warehouse, every later
step reads and writes that copy, publish and export prepare their files beside
their final place, and commit swaps it all in. A night that fails at any step
changes nothing; running it again starts from the committed state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bullseye import night
from bullseye.config import RunConfig
from bullseye.ingest import LoadReport, blocking_issues, ensure_schema, load_landing
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
    quality_page: str = ""
    exports: str = ""
    report: str = ""  # exports/<run_date>/report.html (bullseye.activation.report)
    kind: str = ""  # night or backfill, once committed
    notes: list[str] = field(default_factory=list)  # what the night did less than asked
    list_scorecards: list[dict] = field(default_factory=list)  # marts.list_scorecards, one dict per list


def check_campaigns(cfg: RunConfig):
    """Read and validate the campaign folder (bullseye.activation.campaigns): once a night, before the
    load step begins it (``bullseye run`` asks before taking the warehouse's lock, the load step again:
    the second answer comes from :func:`_validated` while the files are unchanged). Invalid definitions
    stop the night before anything runs."""
    from bullseye.activation.campaigns import CampaignError

    try:
        return _validated(cfg.campaigns, _folder_state(cfg.campaigns))
    except CampaignError as e:
        raise PipelineError(f"campaigns in {cfg.campaigns}: {e}") from e


def _folder_state(folder: Path) -> tuple:
    """What a validation depends on: every file's name, size and modification time."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file()))


@lru_cache(maxsize=4)
def _validated(folder: Path, state: tuple):
    from bullseye.activation.campaigns import load_campaigns

    return load_campaigns(folder)


def step_load(cfg: RunConfig, summary: NightSummary | None = None) -> LoadReport:
    from bullseye.activation import night_settings

    campaigns, policy = check_campaigns(cfg)
    if not cfg.landing.is_dir():
        raise PipelineError(f"landing zone {cfg.landing} does not exist")
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    work = night.begin(cfg)
    con = connect(work)
    try:
        night_settings.store(con, cfg.as_of, cfg.campaigns, campaigns, policy)  # what every later step plans with
        report = load_landing(con, cfg.landing, cfg.run_id, on_delivery=lambda _: night.failpoint("load"))
        empty = [s for s in REQUIRED_SOURCES
                 if con.execute(f"SELECT count(*) FROM raw.{s}").fetchall()[0][0] == 0]
    finally:
        con.close()
    state_notes = prepare_state(work)
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
        summary.notes.extend(report.notes)  # default ID salt, lists refused or never contacted, purges
        summary.notes.extend(state_notes)
    night.mark(cfg, "load")
    return report


def step_build(cfg: RunConfig, summary: NightSummary | None = None):
    """dbt builds the identity inputs, the identity step resolves them, dbt builds the rest, and the
    night's history is recorded (bullseye.history): all on the night's working copy."""
    from bullseye.identity.step import INPUTS_SELECTOR
    from bullseye.transform import buildable_except, incremental_notes, incremental_watermarks, manifest_path, run_dbt

    work = night.require(cfg, "build")
    wcfg = night.working_config(cfg)
    state_notes = prepare_state(work)
    if summary is not None:
        summary.notes.extend(state_notes)
    con = connect(work, read_only=True)
    try:
        watermarks = incremental_watermarks(con)
    finally:
        con.close()
    # dbt unit tests check SQL logic, not the night's data: CI runs them (tests/test_dbt_unit_tests.py)
    no_unit = ("--exclude-resource-type", "unit_test")
    nodes = run_dbt(wcfg, "build", "--select", *INPUTS_SELECTOR, "--indirect-selection", "cautious", *no_unit)
    step_identity(wcfg)
    rest = buildable_except(manifest_path(wcfg), {n.name for n in nodes})
    nodes += run_dbt(wcfg, "build", "--select", *rest, *no_unit)
    record_history(wcfg)
    if summary is not None:
        con = connect(work, read_only=True)
        try:
            summary.people, summary.customers = con.execute(
                "SELECT count(*), count(*) FILTER (is_customer) FROM marts.dim_customer").fetchall()[0]
            summary.orders = con.execute("SELECT count(*) FROM marts.fct_orders").fetchall()[0][0]
            summary.identity, notes = identity_run(con, cfg.as_of)
            summary.notes.extend(notes)
            summary.notes.extend(rhythm_notes(con))
            summary.list_scorecards = con.execute(
                "SELECT * FROM marts.list_scorecards ORDER BY list_id").df().to_dict("records")
            summary.notes.extend(results_notes(con, cfg.as_of))
            summary.notes.extend(incremental_notes(watermarks, incremental_watermarks(con), cfg.as_of.isoformat(),
                                                   cfg.full_refresh, night.latest_committed(cfg.warehouse) is None))
        finally:
            con.close()
    night.mark(cfg, "build")
    return nodes


def results_notes(con, as_of) -> list[str]:
    """What tonight's results could not measure, for the run summary (no silent gaps): stores without a
    revenue target this month (kpi_store_monthly: attainment NULL), and campaign waves without an incremental
    margin (campaign_results: no holdout, too small a holdout ..., so only roi, which credits all attributed
    margin, speaks for them)."""
    notes = []
    month = str(as_of)[:7]
    stores, lacking = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE revenue_target IS NULL) FROM marts.kpi_store_monthly "
        "WHERE store_id <> 'none' AND strftime(month, '%Y-%m') = ?", [month]).fetchall()[0]
    if lacking:
        notes.append(f"store KPIs: {lacking} of {stores} stores have no revenue target for {month} "
                     "(store_targets/): their attainment is NULL")
    waves = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE incremental_margin IS NULL), "
        "string_agg(DISTINCT regexp_replace(incremental_note, ': .*', ''), '; ' "
        "ORDER BY regexp_replace(incremental_note, ': .*', '')) "
        "FILTER (WHERE incremental_margin IS NULL) FROM marts.campaign_results").fetchall()[0]
    if waves[1]:
        notes.append(f"campaign results: {waves[1]} of {waves[0]} rows (campaign and wave) have no incremental margin "
                     f"or ROI ({waves[2]}: see incremental_note); their roi credits all attributed margin")
    return notes


def prepare_state(work) -> list[str]:
    """Tables the build reads but the loader does not write: raw tables of sources never delivered, the
    identity and history state (created empty on a first night). Returns what the run summary must say:
    the history a warehouse from before declared history had copied in."""
    from bullseye import history
    from bullseye.identity.step import ensure_clusters

    con = connect(work)
    try:
        ensure_schema(con)
        ensure_clusters(con)
        copied = history.ensure(con)
    finally:
        con.close()
    return [f"history: a warehouse from before declared history: copied {c} (once)" for c in copied]


def step_identity(wcfg: RunConfig, manifest: Path | None = None) -> dict:
    """Resolve tonight's identities on the working copy (bullseye.identity.step); ``wcfg`` is the
    night's working configuration, whose last dbt command built the identity inputs (its manifest
    unless another is given: the DAG's)."""
    from bullseye.identity.resolver import IdentityConfig
    from bullseye.identity.step import EDGES_MODEL, OVERRIDES_SEED, RECORDS_MODEL, run_identity
    from bullseye.transform import manifest_path, relations

    rels = relations(manifest or manifest_path(wcfg), (RECORDS_MODEL, EDGES_MODEL, OVERRIDES_SEED))
    con = connect(wcfg.warehouse)
    try:
        # threshold and drift limit: the project's settings (IdentityConfig's defaults); the mode: the run's
        result = run_identity(con, wcfg.as_of, IdentityConfig(mode=wcfg.identity_mode), rels)
    finally:
        con.close()
    return result.run


def record_history(wcfg: RunConfig, manifest: Path | None = None) -> dict[str, int]:
    """Write tonight's decisions and lifecycle changes into the history tables (bullseye.history)."""
    from bullseye import history
    from bullseye.transform import manifest_path, relations

    rels = relations(manifest or manifest_path(wcfg), tuple(history.RECORDED_FROM.values()))
    con = connect(wcfg.warehouse)
    try:
        return history.record(con, wcfg.as_of, rels)
    finally:
        con.close()


def identity_run(con, as_of) -> tuple[dict, list[str]]:
    """Tonight's identity.runs row, and what the summary must say about it.

    A night whose match model could not be trained links records on exact keys only, and
    duplicates without a shared key stay apart: the resolver writes why in ``matching_note``
    (also for lesser shortfalls: comparisons or blocking rules left out), and the run summary
    carries it, so that "keys only" is never silent."""
    run = con.execute("SELECT * FROM identity.runs WHERE as_of = ?", [as_of]).df()
    row = run.iloc[0].to_dict() if len(run) else {}
    note = row.get("matching_note")
    return row, [f"identity: {note}"] if isinstance(note, str) and note.strip() else []


def rhythm_notes(con) -> list[str]:
    """What the summary must say when buyers with too few purchases of their own are judged on everyone's
    usual gap because nothing they bought has a repurchase cycle (no row in seed category_cycles, too few
    repeat buyers to learn one, or orders without lines): the lifecycle then treats a durable good like the
    average purchase, which is what issue 16 found wrong, so it must not pass unseen."""
    fallback, gap = con.execute("""
        SELECT count(*) FILTER (WHERE rhythm_source = 'population'), any_value(population_gap_days)
        FROM intermediate.int_customer__purchase_rhythm""").fetchall()[0]
    if not fallback:
        return []
    cats = [c for (c,) in con.execute("""
        SELECT category FROM intermediate.int_category__repurchase_cycles
        WHERE cycle_source = 'none' AND buyers > 0 ORDER BY buyers DESC, category LIMIT 5""").fetchall()]
    why = (f"bought categories without a cycle ({', '.join(cats)}: no row in seed category_cycles, too few "
           "repeat buyers to learn one) or orders without a category" if cats else "orders without a category")
    return [f"lifecycle: {fallback:,} buyers with too few purchases of their own are judged on everyone's usual "
            f"gap ({gap:g} days), not on a repurchase cycle: {why}"]


def step_check(cfg: RunConfig, summary: NightSummary | None = None):
    from bullseye.quality import enforce, run_checks

    report = run_checks(night.require(cfg, "check"), cfg.quality_dir, run_date=cfg.as_of)
    if summary is not None:
        summary.checks_passed = sum(r.success for r in report.results)
        summary.checks_warned = len(report.warnings)
        summary.data_docs = str(report.data_docs or "")
        summary.quality_page = str(report.page or "")
    night.failpoint("check")
    enforce(report)
    night.mark(cfg, "check")
    return report


def step_publish(cfg: RunConfig, summary: NightSummary | None = None) -> dict[str, int]:
    from bullseye.identity.drift import blocking_reason
    from bullseye.publish import publish

    work = night.require(cfg, "publish")
    con = connect(work)
    try:
        reason = blocking_reason(con, cfg.as_of)
        implausible = blocking_issues(con, cfg.run_id)
    finally:
        con.close()
    if implausible:
        raise PipelineError(
            f"implausible input blocks publishing of {cfg.as_of} ({len(implausible)} value(s); rules in "
            f"bullseye/ingest/rules.py): " + "; ".join(implausible[:10])
            + ". Fix the file(s) and deliver them again, then run the night again.")
    if reason:
        raise PipelineError(
            f"identity drift blocks publishing of {cfg.as_of}: {reason}. Review it with `bullseye identity drift`, "
            f"then `bullseye identity ack --as-of {cfg.as_of} --by NAME` and run the last steps again "
            f"(`bullseye run --as-of {cfg.as_of} --steps publish,export,commit`).")
    staged = night.staged_publication(cfg)
    counts = publish(work, staged, cfg.run_id)
    night.failpoint("publish")
    night.mark(cfg, "publish")
    if summary is not None:
        summary.published = str(cfg.published)
    return counts


def step_export(cfg: RunConfig, summary: NightSummary | None = None) -> dict[str, int]:
    from bullseye.activation import night_settings
    from bullseye.activation.call_sheets import CALL_SHEET_ROWS
    from bullseye.activation.exports import LIST_CONTACTS, export_lists
    from bullseye.activation.report import write_report
    from bullseye.transform import manifest_path, relations

    work = night.require(cfg, "export")
    con = connect(work, read_only=True)
    try:
        campaigns, _ = night_settings.read(con, cfg.as_of)  # the definitions the night planned with
        deferred = _deferred_calls(con, cfg)
    finally:
        con.close()
    if summary is not None and deferred:
        summary.notes.append(deferred)
    staged = night.staged_exports(cfg)
    rel = relations(manifest_path(night.working_config(cfg)), [LIST_CONTACTS, CALL_SHEET_ROWS])
    written = export_lists(work, cfg.as_of, staged, campaigns, rel[LIST_CONTACTS], rel[CALL_SHEET_ROWS])
    report = write_report(work, cfg.as_of, staged, cfg.quality_dir)
    if summary is not None:
        summary.notes.extend(_call_sheet_notes(staged))
    night.failpoint("export")
    night.mark(cfg, "export")
    if summary is not None:
        summary.lists = written
        summary.exports = str(cfg.exports)
        summary.report = str(cfg.exports / report.name)
    return written


def _call_sheet_notes(exports: Path) -> list[str]:
    """The run summary's line on call sheets whose calls lack the context a call needs (from the manifest)."""
    from bullseye.activation.call_sheets import missing_context_note

    manifest = json.loads((exports / "manifest.json").read_text(encoding="utf-8"))
    note = missing_context_note(manifest.get("call_sheets") or {})
    return [note] if note else []


def _deferred_calls(con, cfg: RunConfig) -> str:
    """The run summary's line on calls beyond capacity: they are not on tonight's lists (issue 16)."""
    n, pools = con.execute("""SELECT count(*), count(DISTINCT split_part(split_part(detail, 'next night: ', 2),
        ' has ', 1)) FROM marts.contact_decisions WHERE run_date = ? AND reason = 'deferred:capacity'""",
                           [cfg.as_of]).fetchall()[0]
    if not n:
        return ""
    return (f"call capacity: {n:,} phone calls in {pools:,} salesperson/store pools wait for the next night "
            "(deferred:capacity in marts.contact_decisions; call_capacity in contact_policy.yml)")


def step_commit(cfg: RunConfig, summary: NightSummary | None = None) -> str:
    """Swap the night's exports, warehouse and publication in (bullseye.night.commit)."""
    kind = night.commit(cfg, _summary_record(summary))
    if summary is not None:
        summary.kind = kind
        if kind == "backfill":
            summary.published = ""
            summary.notes.append(
                f"backfill: a later night is committed, so this night's state was not merged into "
                f"{cfg.warehouse} and the publication was left as it was; its exports are in {cfg.exports} and "
                f"its warehouse in {night.backfill_dir(cfg)}")
    return kind


def _summary_record(summary: NightSummary | None) -> dict:
    if summary is None:
        return {}
    return {k: v for k, v in summary.__dict__.items() if k not in ("identity",)}


STEPS = (("load", step_load), ("build", step_build), ("check", step_check),
         ("publish", step_publish), ("export", step_export), ("commit", step_commit))
STEP_NAMES = tuple(name for name, _ in STEPS)
