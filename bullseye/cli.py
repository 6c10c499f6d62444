"""The ``bullseye`` command (contract section 3).

    bullseye run [--landing DIR] [--as-of DATE] [--warehouse PATH]
    bullseye demo-data --out DIR [--scale S] [--seed N]
    bullseye dbt-manifest [--target DIR]
    bullseye bench night|demo-data|load|identity|clv [--scale S] [--customers N] [--incremental] [--json FILE]
    bullseye bench identity --records FILE [--records FILE ...] --truth FILE
    bullseye forget --phone P | --email E | --id-card N | --customer-id C [--warehouse PATH] [--home DIR]
    bullseye subject-access --phone P | --email E | --id-card N | --customer-id C [--out FILE]
    bullseye lists why PERSON [--warehouse PATH] [--home DIR] [--as-of DATE]

Console output is for people: one line per step, a summary at the end, and on
failure one clear message. Library logs go to ``<home>/logs/bullseye.log``.

A mistake in the command line (an unknown step, a date that is not one) is one line
and exit code 2, before anything runs; an error while running is one line too, with
the traceback in the log (and on the terminal with ``--debug``). Options may be given
before or after the subcommand. When the output is not a terminal (a pipe, a file, a
scheduler's log) lines are printed as they are, never wrapped at 80 columns.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bullseye.config import HomeTaken, RunConfig, claim_home, default_home, resolve_paths

console = Console(highlight=False)
# Output that is not a terminal is read by tools and people scrolling a log: no wrapping at all.
PLAIN_WIDTH = 100_000
DEMO_SEED = 42
# Warnings a night is known to raise that nobody running it can act on; only these are dropped.
# Any other warning is written to <home>/logs/bullseye.log, so a new one is seen, not hidden.
# Measured on demo nights run with ``-W default`` (issue 15): PyMC-Marketing declares pydantic
# fields the v1 way (PydanticDeprecatedSince20, a DeprecationWarning, on import). Libraries that
# warn about their own internals (agate, PyMC inside the CLV fit) already silence those locally.
KNOWN_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (DeprecationWarning, r"pymc_marketing(\.|$)"),
)


LOG_HANDLER = "bullseye-cli"  # the name of the log file handler _setup_logging attaches


def _setup_logging(logdir: Path) -> None:
    logdir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.FileHandler(logdir / "bullseye.log", encoding="utf-8")
    handler.set_name(LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # warnings go to the log file, never to the console
    captured = logging.getLogger("py.warnings")  # a library may have silenced it: warnings must reach the log
    captured.disabled, captured.propagate = False, True
    captured.setLevel(logging.NOTSET)
    for h in list(captured.handlers):
        captured.removeHandler(h)
    for category, module in KNOWN_NOISE:
        warnings.filterwarnings("ignore", category=category, module=module)


def _demo_landing(home: Path) -> Path:
    from bullseye.demo import generate

    landing = home / "demo_landing"
    if not (landing / "_truth" / "identity.csv").exists():
        with console.status("generating demo landing zone (scale 1)"):
            generate(landing, scale=1.0, seed=DEMO_SEED)
        console.print(f"[dim]demo landing zone written to {landing}[/dim]")
    return landing


def cmd_run(args: argparse.Namespace) -> int:
    from bullseye.night import WarehouseBusy, night_lock
    from bullseye.pipeline import NightSummary

    home, warehouse = resolve_paths(args.home, args.warehouse)
    try:
        claim_home(home, warehouse)
    except HomeTaken as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 2
    _setup_logging(home / "logs")
    only = list(args.steps) if args.steps else None  # checked against STEP_NAMES by the parser (_steps)
    landing = Path(args.landing) if args.landing else _demo_landing(home)
    cfg = RunConfig(landing=landing, warehouse=warehouse, as_of=args.as_of or date.today(),
                    home=home, identity_mode=args.identity_mode, campaigns=args.campaigns,
                    full_refresh=args.full_refresh)
    summary = NightSummary(as_of=cfg.as_of.isoformat())
    console.print(f"[bold]bullseye nightly run[/bold] as of {cfg.as_of}  landing={cfg.landing}  "
                  f"warehouse={cfg.warehouse}")
    if only is None or "load" in only:  # bad campaign files stop the night before it touches anything
        from bullseye.pipeline import PipelineError, check_campaigns
        try:
            check_campaigns(cfg)  # validated once: the load step gets the same answer
        except PipelineError as exc:
            console.print(f"[red]✗ {exc}[/red]", soft_wrap=True)
            return 1
    try:
        with night_lock(cfg, "run", wait=args.wait):
            code = _run_steps(cfg, summary, only)
    except WarehouseBusy as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 75  # EX_TEMPFAIL: try again later
    if code == 0:
        _print_summary(summary)
    else:  # what the night did less than asked may be why it failed (keys only, then an identity drift)
        _print_notes(summary)
    return code


def _run_steps(cfg: RunConfig, summary, only: list[str] | None) -> int:
    from bullseye.pipeline import STEPS

    for i, (name, fn) in enumerate(STEPS, start=1):
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        with console.status(f"[{i}/{len(STEPS)}] {name} ..."):
            try:
                fn(cfg, summary)
            except Exception as exc:  # noqa: BLE001 - reported to the user, details in the log
                logging.getLogger("bullseye").exception("step %s failed", name)
                console.print(f"[red]✗ [{i}/{len(STEPS)}] {name} failed after {time.perf_counter() - t0:.1f}s[/red]")
                console.print(f"[red]{_plain(exc)}[/red]", soft_wrap=True)
                console.print(f"[dim]details: {cfg.logs / 'bullseye.log'}[/dim]", soft_wrap=True)
                console.print("[yellow]nothing of this night was committed: the warehouse, the last publication "
                              "and earlier exports are untouched; run the night again once fixed[/yellow]")
                return 1
        console.print(f"[green]✓[/green] [{i}/{len(STEPS)}] {name:<8} {time.perf_counter() - t0:6.1f}s"
                      + _step_note(name, summary))
    return 0


def _step_note(name: str, s) -> str:
    if name == "load":
        return (f"  {s.deliveries_new} new deliveries ({s.deliveries_skipped} already loaded), "
                f"{s.rows_loaded:,} rows loaded, {s.rows_quarantined:,} quarantined")
    if name == "build":
        i = s.identity
        ident = (f"; identity {i['mode']}: {i['merges']} merges, {i['splits']} splits, "
                 f"{i['changed_share']:.2%} of records changed id") if i else ""
        return f"  {s.people:,} people, {s.orders:,} orders{ident}"
    if name == "check":
        return f"  {s.checks_passed} checks passed, {s.checks_warned} warnings"
    if name == "export":
        return f"  {sum(s.lists.values()):,} rows in {len(s.lists)} list(s)"
    if name == "commit":
        return "  backfill: later nights left unchanged" if s.kind == "backfill" else "  night committed"
    return ""


def _print_summary(s) -> None:
    table = Table(title=f"Night of {s.as_of}", show_header=False, title_justify="left")
    table.add_row("rows in", f"{s.rows_in:,}")
    table.add_row("rows loaded", f"{s.rows_loaded:,}")
    table.add_row("rows quarantined", f"{s.rows_quarantined:,} (+{s.values_quarantined:,} unreadable values dropped)")
    table.add_row("people", f"{s.people:,} ({s.customers:,} customers)")
    for campaign, n in s.lists.items():
        table.add_row(f"list {campaign}", f"{n:,} rows")
    console.print(table)
    _print_list_scorecards(getattr(s, "list_scorecards", []))
    _print_notes(s)
    if s.published:
        console.print(f"published for BI: {s.published}", soft_wrap=True)
    if s.exports:
        console.print(f"exports:          {s.exports}", soft_wrap=True)
    if getattr(s, "report", ""):
        console.print(f"night report:     {s.report}", soft_wrap=True)
    if s.data_docs:
        console.print(f"data docs:        {s.data_docs}", soft_wrap=True)
    if s.quality_page:
        console.print(f"quality checks:   {s.quality_page}", soft_wrap=True)


def _print_notes(s) -> None:
    """What the night did less than asked (NightSummary.notes), one yellow line each."""
    for note in s.notes:
        console.print(f"[yellow]note: {note}[/yellow]", soft_wrap=True)


def _privacy_target(args: argparse.Namespace) -> tuple[RunConfig, str, str]:
    """The warehouse and home a privacy command works on, and the (kind, value) naming the person."""
    home, warehouse = resolve_paths(args.home, args.warehouse)
    cfg = RunConfig(landing=home, warehouse=warehouse, home=home)
    kind, value = next((k, getattr(args, k)) for k in ("phone", "email", "id_card", "customer_id")
                       if getattr(args, k) is not None)
    return cfg, kind, value


def cmd_forget(args: argparse.Namespace) -> int:
    """Erase a person everywhere and keep a salted key in the forget-list (bullseye.privacy.forget)."""
    from bullseye.night import WarehouseBusy
    from bullseye.privacy.forget import forget
    from bullseye.privacy.person import PersonError

    cfg, kind, value = _privacy_target(args)
    try:
        claim_home(cfg.home, cfg.warehouse)  # it rewrites the home's exports and publication
    except HomeTaken as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 2
    _setup_logging(cfg.home / "logs")
    try:
        r = forget(cfg, kind, value)
    except WarehouseBusy as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 75
    except (PersonError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 1
    who = "1 person" if r.people else "no person resolved (rows holding the value itself were erased)"
    console.print(f"forget request {r.request_id} ({kind}): {who}; {sum(r.rows_erased.values()):,} rows erased "
                  f"in {len(r.rows_erased)} tables, {sum(r.rows_blanked.values()):,} rows kept with values blanked, "
                  f"{r.export_rows_erased:,} rows removed from {r.export_files_rewritten} export files; "
                  f"{r.keys_added} salted keys added to meta.forget_list", soft_wrap=True)
    if r.other_databases:
        console.print(f"also erased in: {', '.join(r.other_databases)}", soft_wrap=True)
    if r.shared:
        console.print("[yellow]kept because another person carries them too: "
                      + ", ".join(f"{n} {k}" for k, n in sorted(r.shared.items())) + "[/yellow]", soft_wrap=True)
    if r.published:
        console.print(f"published again: {r.published}", soft_wrap=True)
    return 0


def cmd_subject_access(args: argparse.Namespace) -> int:
    """Everything stored about one person, as one JSON file (bullseye.privacy.subject_access)."""
    from bullseye.privacy.person import PersonError
    from bullseye.privacy.subject_access import subject_access

    cfg, kind, value = _privacy_target(args)
    if not cfg.warehouse.exists():
        console.print(f"[red]no warehouse at {cfg.warehouse}: run `bullseye run` first or pass --warehouse[/red]")
        return 1
    out = Path(args.out) if args.out else Path.cwd() / f"subject-access-{kind}-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        counts = subject_access(cfg, kind, value, out)
    except PersonError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 1
    console.print(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), soft_wrap=True)
    console.print("[yellow]the file is personal data: hand it to the person and delete it[/yellow]")
    return 0


def _print_list_scorecards(cards: list[dict]) -> None:
    """Per purchased list: is it worth its cost? (marts.list_scorecards). One short paragraph per
    list rather than a 13-column table, which a terminal of 80 columns cuts to ellipses."""
    if not cards:
        return

    def pct(x) -> str:
        return "-" if x is None or x != x else f"{x:.0%}"

    def money(x) -> str:
        return "-" if x is None or x != x else f"¥{float(x):,.0f}"

    console.print("[bold]Purchased lists[/bold] (marts.list_scorecards)")
    for c in cards:
        console.print(
            f"  {c['list_id']} ({c['vendor']}): {c['rows_delivered']:,} rows, {c['rows_quarantined']:,} held "
            f"({pct(c['quarantine_rate'])}), valid phones {pct(c['valid_phone_rate'])}, "
            f"{c['duplicates_within_list']:,} duplicates, {pct(c['overlap_with_customers_rate'])} already customers, "
            f"{c['net_new_people']:,} net new, {pct(c['already_suppressed_rate'])} suppressed; contacted "
            f"{c['contacted']:,}, responded {c['responded']:,}, bought {c['bought']:,}; "
            f"{money(c['cost_per_net_new_person'])} per new person, {money(c['cost_per_buyer'])} per buyer",
            soft_wrap=True)
        if c.get("top_quarantine_reasons"):
            console.print(f"[dim]    held back: {c['top_quarantine_reasons']}[/dim]", soft_wrap=True)


def cmd_demo_data(args: argparse.Namespace) -> int:
    from bullseye.demo import generate

    t0 = time.perf_counter()
    summary = generate(Path(args.out), scale=args.scale, seed=args.seed)
    console.print(f"wrote demo landing zone for {summary.people:,} people to {args.out} "
                  f"in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_dbt_manifest(args: argparse.Namespace) -> int:
    from bullseye.config import DBT_PROJECT_DIR
    from bullseye.transform import compile_manifest

    target = Path(args.target) if args.target else DBT_PROJECT_DIR / "target"
    console.print(f"manifest written to {compile_manifest(target)}")
    return 0


def cmd_identity(args: argparse.Namespace) -> int:
    """explain / why-not / drift / ack: audit of identity resolution on the warehouse."""
    from bullseye.identity import drift, explain
    from bullseye.warehouse import connect

    _, warehouse = resolve_paths(args.home, args.warehouse)
    if not warehouse.exists():
        console.print(f"[red]no warehouse at {warehouse}: run `bullseye run` first or pass --warehouse[/red]")
        return 1
    con = connect(warehouse)
    try:
        if args.action == "explain":
            members, journal = explain.customer(con, args.customer_id)
            if members.empty and journal.empty:
                console.print(f"[red]no customer {args.customer_id}[/red]")
                return 1
            _print_frame(f"records of {args.customer_id}", members)
            if not journal.empty:
                _print_frame("journal", journal)
        elif args.action == "why-not":
            res = explain.why_not(con, args.record_a, args.record_b, args.threshold)
            verdict = "the same person" if res.merged else "different people"
            console.print(f"{args.record_a} and {args.record_b} are {verdict} "
                          f"({res.customer_ids[0]} / {res.customer_ids[1]})")
            for reason in res.reasons:
                console.print(f"  - {reason}")
            weights = {k.removeprefix("mw_"): v for k, v in res.comparison.items() if k.startswith("mw_")}
            if weights:
                console.print(f"  match weight {float(res.comparison['match_weight']):.2f} = prior + "
                              + ", ".join(f"{k} {float(v):+.2f}" for k, v in weights.items()), soft_wrap=True)
        elif args.action == "drift":
            pending = sorted(warehouse.parent.glob(f".nights/*/{warehouse.name}"))
            if pending:  # a night held back waits in its working copy (bullseye.night)
                con.close()
                con = connect(pending[-1])
                console.print(f"[dim]night {pending[-1].parent.name} is in progress or held back: "
                              f"showing its working copy[/dim]")
            df = drift.runs(con, args.last)
            if df.empty:
                console.print("no identity runs yet")
                return 0
            cols = ["as_of", "mode", "records", "people", "new_people", "merges", "splits", "changed_share",
                    "cluster_sizes", "source_match_share", "blocked", "acknowledged_by", "seconds"]
            _print_frame("identity drift (newest first)", df[cols])
        elif args.action == "ack":
            if not _ack_night_in_progress(warehouse, args):
                drift.acknowledge(con, args.as_of, args.by, args.note or "")
            console.print(f"identity drift of {args.as_of} acknowledged by {args.by}; publish may go ahead")
    finally:
        con.close()
    return 0


def _ack_night_in_progress(warehouse: Path, args: argparse.Namespace) -> bool:
    """A blocked night waits in its working copy (bullseye.night): the ack goes there, and a re-run of the
    night carries it over. The committed warehouse is not written (a night may only commit onto the file it
    started from). Returns whether there was such a night."""
    from bullseye.identity import drift
    from bullseye.night import working_copy
    from bullseye.warehouse import connect

    work = working_copy(warehouse, args.as_of)
    if work.exists():
        con = connect(work)
        try:
            drift.acknowledge(con, args.as_of, args.by, args.note or "")
        finally:
            con.close()
        return True
    return False


def _print_frame(title: str, df) -> None:
    """One line per row, ``column=value`` pairs: readable in a narrow terminal and in logs."""
    console.print(f"[bold]{title}[/bold]")
    for row in df.to_dict("records"):
        cells = [f"{k}={v}" for k, v in row.items() if v is not None and str(v) not in ("nan", "NaT", "None", "")]
        console.print("  " + "  ".join(cells), soft_wrap=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_bench(args: argparse.Namespace) -> int:
    import tempfile

    from bullseye.demo import generate

    if (args.records or args.truth) and args.what != "identity":
        console.print("[red]--records and --truth are for `bench identity`[/red]")
        return 2
    if args.what == "identity":
        return _bench_identity_file(args) if args.records or args.truth else _bench_identity(args)
    if args.what == "clv":
        return _bench_clv(args)
    if args.what == "load":
        return _bench_load(args)
    if args.what == "night":
        return _bench_night(args)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        landing = Path(tmp) / "landing"
        t0 = time.perf_counter()
        summary = generate(landing, scale=args.scale, seed=DEMO_SEED)
        gen_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        rows = sum(summary.counts.values())
        console.print(f"demo-data scale={args.scale}: {summary.people:,} people, {rows:,} rows, "
                      f"{size / 1e6:,.0f} MB in {gen_s:.1f}s; peak RSS {_peak_rss_mb():,.0f} MB")
    return 0


def _bench_night(args: argparse.Namespace) -> int:
    """A whole night on demo data: per step wall time, rows per second and peak memory (bullseye.night_bench)."""
    import json
    import tempfile
    from dataclasses import asdict

    from bullseye.night_bench import bench_night

    if args.tmp:
        Path(args.tmp).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as scratch:
        base = Path(args.tmp) if args.tmp else Path(scratch)  # --tmp keeps the demo data for the next run
        nights = bench_night(args.scale, base, DEMO_SEED, incremental=args.incremental)
    for fig in nights:
        made = (f"demo data generated in {fig.generate_seconds:.1f}s" if fig.generate_seconds is not None
                else "demo data reused")
        console.print(f"night scale={fig.scale:g} as of {fig.as_of}: {fig.people:,} people, {fig.input_rows:,} "
                      f"input rows ({made})", soft_wrap=True)
        table = Table("step", "seconds", "rows/s", "peak RSS MB", "RSS at start MB", "peak spill MB")
        for s in fig.steps:
            table.add_row(s.step, f"{s.seconds:,.1f}", f"{s.rows_per_second:,.0f}" if s.rows_per_second else "",
                          f"{s.peak_rss_mb:,.0f}" if s.peak_rss_mb else "",
                          f"{s.start_rss_mb:,.0f}" if s.start_rss_mb else "",
                          f"{s.peak_spill_mb:,.0f}" if s.peak_spill_mb is not None else "")
            for f in (f for f in fig.fixed if f.step == s.step):  # what the step pays whatever the data
                table.add_row(f"  of which fixed: {f.what}" + (f" (x{f.count})" if f.count > 1 else ""),
                              f"{f.seconds:,.1f}", "", "", "", "")
        table.add_row("night", f"{fig.total_seconds:,.1f}",
                      f"{fig.input_rows / fig.total_seconds:,.0f}" if fig.total_seconds else "",
                      f"{fig.peak_rss_mb:,.0f}", "", f"{fig.peak_spill_mb:,.0f}")
        for f in (f for f in fig.fixed if f.step == "airflow"):  # not in this night: each Airflow task pays it
            table.add_row(f"not in the night: {f.what}, per task ({f.count} tasks)", f"{f.seconds:,.1f}", "", "",
                          "", "")
        console.print(table)
        for f in fig.fixed:
            if f.detail:
                console.print(f"  fixed: {f.what}: {f.detail}", soft_wrap=True)
        if fig.slowest_nodes:
            console.print("  dbt's slowest nodes: " + ", ".join(f"{name} {sec:,.1f}s" for name, sec in
                                                               fig.slowest_nodes), soft_wrap=True)
        for note in fig.notes:
            console.print(f"  note: {note}", soft_wrap=True)
        for line in fig.targets:
            console.print(f"  [{'green' if line.startswith('target met') else 'yellow'}]{line}[/]", soft_wrap=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(f) for f in nights], indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
        console.print(f"figures written to {args.json}", soft_wrap=True)
    return 0


def _bench_load(args: argparse.Namespace) -> int:
    """The loader and DuckDB's own readers on the same demo files, side by side (bullseye.ingest.bench)."""
    import tempfile

    from bullseye.ingest.bench import compare, landing_for

    if args.tmp:
        Path(args.tmp).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as scratch:
        base = Path(args.tmp) if args.tmp else Path(scratch)  # --tmp keeps the demo data for the next run
        landing, gen_s = landing_for(args.scale, base, DEMO_SEED)
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        made = f"generated in {gen_s:.1f}s" if gen_s is not None else "reused"
        console.print(f"demo-data scale={args.scale:g}: {size / 1e6:,.0f} MB in {landing} ({made})", soft_wrap=True)
        loader, direct = compare(landing, Path(scratch))
    for name, side in (("bullseye loader", loader), ("duckdb read_* into tables", direct)):
        console.print(f"  {name:>26}: {side.rows:,} rows in {side.seconds:.1f}s ({side.rows_per_second:,.0f} rows/s); "
                      f"peak RSS {side.peak_rss_mb:,.0f} MB", soft_wrap=True)
    console.print(f"  ratio loader / duckdb: {loader.seconds / direct.seconds:.2f}x (target <= 2)")
    return 0


def _bench_identity(args: argparse.Namespace) -> int:
    import tempfile

    from bullseye.identity.benchmark import run_bench

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        res = run_bench(Path(tmp), args.scale, new=args.new, events=not args.no_events,
                        progress=lambda m: console.print(f"[dim]{m}[/dim]"))
    console.print(f"identity scale={res.scale}: {res.records:,} source records")
    for ph in res.phases:
        console.print(f"  {ph.name}: {ph.records:,} records, {ph.seconds:.1f}s, peak RSS {ph.peak_rss_mb:,.0f} MB, "
                      f"rescored {ph.run.get('rescored_records', 0):,}, {ph.run.get('people', 0):,} people",
                      soft_wrap=True)
        laps = ", ".join(f"{k} {v:.1f}s" for k, v in ph.run.get("phase_seconds", {}).items())
        console.print(f"    [dim]{laps}[/dim]", soft_wrap=True)
        if ph.run.get("matching_note"):  # keys only, or comparisons left out: never silent
            console.print(f"    [yellow]matching: {ph.run['matching_note']}[/yellow]", soft_wrap=True)
    console.print(f"  pairwise precision {res.precision:.4f}, recall {res.recall:.4f}, F1 {res.f1:.4f} (against the "
                  f"demo truth; the evidence allows at most recall {res.recall_ceiling:.4f})", soft_wrap=True)
    console.print(f"  incremental night gives the clusters of a full rescoring: {res.incremental_equals_full}")
    return 0


def _bench_identity_file(args: argparse.Namespace) -> int:
    """Precision, recall and F1 on the user's own labelled files (bullseye.identity.benchmark.run_file_bench)."""
    import tempfile

    from bullseye.identity.benchmark import BenchInputError, run_file_bench

    if not args.records or not args.truth:
        console.print("[red]bench identity needs both --records FILE (one or more) and --truth FILE[/red]")
        return 2
    home = default_home()
    _setup_logging(home / "logs")  # dbt and Splink talk to the log file, not to the terminal
    try:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            res = run_file_bench(Path(tmp), [Path(r) for r in args.records], Path(args.truth),
                                 progress=lambda m: console.print(f"[dim]{m}[/dim]"))
    except BenchInputError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 2
    _print_file_bench(res)
    return 0


def _print_file_bench(res) -> None:
    s = res.scores
    table = Table(title=f"Identity resolution on your files (one night, as of {res.as_of})", show_header=False,
                  title_justify="left")
    unknown = (f"; {len(res.truth_unknown):,} name no loaded record, e.g. {', '.join(res.truth_unknown[:3])}"
               if res.truth_unknown else "")
    table.add_row("records", f"{res.records:,} resolved into {res.people:,} people; {res.labelled:,} labelled "
                             f"and scored")
    table.add_row("truth labels", f"{res.truth_rows:,} ({res.truth_format}){unknown}")
    table.add_row("true pairs", f"{s.true_pairs:,}")
    table.add_row("predicted pairs", f"{s.predicted_pairs:,} ({s.correct_pairs:,} correct)")
    table.add_row("precision", f"{s.precision:.4f}")
    table.add_row("recall", f"{s.recall:.4f}")
    table.add_row("F1", f"{s.f1:.4f}")
    table.add_row("resolve", f"{res.resolve_seconds:.1f}s, peak RSS {res.peak_rss_mb:,.0f} MB")
    table.add_row("setup", f"{res.setup_seconds:.1f}s (load, staging and identity inputs with dbt)")
    table.add_row("matching", res.matching)
    if res.matching_note:
        table.add_row("matching note", res.matching_note)
    table.add_row("rows", f"{res.rows_in:,} in, {res.rows_loaded:,} loaded, {res.rows_quarantined:,} held back, "
                          f"{res.values_quarantined:,} unreadable values dropped")
    console.print(table)
    if res.quarantine:
        console.print("[yellow]quarantined by the loader (meta.quarantine):[/yellow]")
        for line in res.quarantine:
            console.print(f"  {line}", soft_wrap=True)
    for note in res.notes:
        console.print(f"[yellow]note: {note}[/yellow]", soft_wrap=True)


def _bench_clv(args: argparse.Namespace) -> int:
    from bullseye.clv_benchmark import CDNOW_BG, CDNOW_GG, run_bench

    res = run_bench(args.customers)
    console.print(f"clv: {res.customers:,} simulated customers, {res.purchase_days:,} purchase days "
                  f"(simulated in {res.seconds['simulate']:.1f}s)", soft_wrap=True)
    for step, sec in res.seconds.items():
        if step != "simulate":
            console.print(f"  {step}: {sec:.1f}s")
    console.print(f"  summarize + fit + score: {res.fit_and_score_seconds:.1f}s; peak RSS {res.peak_rss_mb:,.0f} MB")
    truth = {**CDNOW_BG.as_dict(), **CDNOW_GG.as_dict()}
    console.print("  parameters fitted (drawn with): " + ", ".join(
        f"{k}={res.fitted[k]:.3f} ({v})" for k, v in truth.items()), soft_wrap=True)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``bullseye run: error: ... (bullseye run --help)``, exit code 2.

    argparse prints the whole usage block before the error; the usage is one ``--help`` away and the
    error is what the user needs to see."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _date(text: str) -> date:
    """A run date as the user writes it, YYYY-MM-DD; a plain message when it is not one."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-25") from None


def _steps(text: str) -> list[str]:
    """A comma-separated subset of the night's steps; a typo stops the command before anything runs."""
    from bullseye.pipeline import STEP_NAMES

    steps = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEP_NAMES]
    if unknown or not steps:
        raise argparse.ArgumentTypeError(f"unknown step(s) {', '.join(unknown) or repr(text)}: "
                                         f"the steps are {', '.join(STEP_NAMES)}")
    return steps


def _positive(kind: type) -> Callable[[str], object]:
    """A number above zero (a scale, a count); a plain message otherwise."""
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
        return value
    parse.__name__ = kind.__name__
    return parse


def _probability(text: str) -> float:
    """A match probability between 0 and 1; a plain message otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


# Both resolved by bullseye.config.resolve_paths, for every command that takes them.
WAREHOUSE_HELP = ("DuckDB warehouse file (default: <home>/warehouse/bullseye.duckdb, or $BULLSEYE_WAREHOUSE "
                  "when no --home is given); without --home, everything the command writes goes beside it")
HOME_HELP = ("folder for the warehouse, publication, exports, quality results and logs (default: beside "
             "--warehouse when given, else $BULLSEYE_HOME, else the repo's var/)")


def _shared(*, where: bool, suppress: bool = False) -> argparse.ArgumentParser:
    """Options every command takes, so that they may come after the subcommand too: --debug and, for
    commands that read a warehouse, --warehouse and --home. ``suppress``: for a nested subcommand whose
    parent takes the same options (a default here would overwrite the parent's value)."""
    default = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the full traceback of an error on the terminal (it is always in the log)")
    if where:
        p.add_argument("--warehouse", default=default, help=WAREHOUSE_HELP)
        p.add_argument("--home", default=default, help=HOME_HELP)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bullseye", description="Nightly database-marketing pipeline.",
                parents=[_shared(where=False)])
    p.set_defaults(debug=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    plain = _shared(where=False)
    located = _shared(where=True)

    run = sub.add_parser("run", help="run the nightly job once (on demo data without --landing)", parents=[located])
    run.add_argument("--landing", help="landing zone folder (default: a generated demo landing zone)")
    run.add_argument("--as-of", type=_date, help="run date YYYY-MM-DD (default: today)")
    run.add_argument("--steps", type=_steps, help="comma-separated subset of load,build,check,publish,export,commit "
                                                  "(a night is committed only by its commit step)")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild the incremental models (the largest staging facts) in full instead of adding "
                          "what changed since the last night; history and identity state are kept")
    run.add_argument("--wait", action="store_true",
                     help="wait for another run on the same warehouse to finish instead of exiting at once")
    run.add_argument("--campaigns", help="folder of campaign YAML files and contact_policy.yml "
                     "(default: the repo's campaigns/, or $BULLSEYE_CAMPAIGNS)")
    run.add_argument("--identity-mode", default="auto", choices=["auto", "incremental", "full", "retrain"],
                     help="auto: score only new and changed records once a match model exists (default); "
                          "full: rescore all pairs; retrain: train the match model again, then rescore")
    run.set_defaults(fn=cmd_run)

    demo = sub.add_parser("demo-data", help="write a demo landing zone", parents=[plain])
    demo.add_argument("--out", required=True, help="folder to write the landing zone into")
    demo.add_argument("--scale", type=_positive(float), default=1.0,
                      help="size: 1 = about 10k people and 100k orders (default 1)")
    demo.add_argument("--seed", type=int, default=DEMO_SEED,
                      help=f"random seed; the same seed and scale give the same files (default {DEMO_SEED})")
    demo.set_defaults(fn=cmd_demo_data)

    man = sub.add_parser("dbt-manifest", help="compile dbt's manifest.json for the Airflow DAG (Cosmos)",
                         parents=[plain])
    man.add_argument("--target", help="target folder (default: dbt_project/target)")
    man.set_defaults(fn=cmd_dbt_manifest)

    ident = sub.add_parser("identity", help="explain and audit identity resolution", parents=[located])
    isub = ident.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    leaf = _shared(where=True, suppress=True)
    ex = isub.add_parser("explain", help="the records of a customer and what tied each", parents=[leaf])
    ex.add_argument("customer_id", help="the customer id, e.g. from marts.dim_customer")
    wn = isub.add_parser("why-not", help="why two records are (not) one person", parents=[leaf])
    wn.add_argument("record_a", help="SOURCE|SOURCE_RECORD_ID, e.g. 'crm_customers|store_pos:S100001'")
    wn.add_argument("record_b", help="the other record, written the same way")
    wn.add_argument("--threshold", type=_probability,
                    help="match probability that joins two records (default: the one the latest night used)")
    dr = isub.add_parser("drift", help="the nightly identity-drift report", parents=[leaf])
    dr.add_argument("--last", type=_positive(int), default=7, help="how many nights to show (default 7)")
    ack = isub.add_parser("ack", help="acknowledge a night's identity drift so that it may publish", parents=[leaf])
    ack.add_argument("--as-of", type=_date, required=True, help="the night acknowledged, YYYY-MM-DD")
    ack.add_argument("--by", required=True, help="who reviewed it")
    ack.add_argument("--note", help="what was reviewed and why the drift is accepted")
    ident.set_defaults(fn=cmd_identity)

    for name, fn, text in (("forget", cmd_forget, "erase a person everywhere (PIPL Art. 47) and keep a salted key "
                                                   "so that no later delivery brings them back"),
                           ("subject-access", cmd_subject_access, "everything stored about one person, as a JSON "
                                                                  "file (PIPL Art. 45)")):
        priv = sub.add_parser(name, help=text, parents=[located])
        who = priv.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", help="a phone number, written in any common form")
        who.add_argument("--email", help="an email address")
        who.add_argument("--id-card", dest="id_card", help="ID-card number (hashed before it is looked up)")
        who.add_argument("--customer-id", dest="customer_id", help="a customer id (a merged-away id works too)")
        if name == "subject-access":
            priv.add_argument("--out", help="JSON file to write (default: ./subject-access-<kind>-<time>.json)")
        priv.set_defaults(fn=fn)

    lists = sub.add_parser("lists", help="tonight's target lists, person by person", parents=[plain])
    lsub = lists.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    why = lsub.add_parser("why", help="why a person is or is not on each of tonight's lists", parents=[located])
    why.add_argument("person", metavar="PERSON",
                     help="a phone (any written form), email, customer id or name (a name may match several people)")
    why.add_argument("--as-of", type=_date, help="the night, YYYY-MM-DD (default: the latest night with lists)")
    why.set_defaults(fn=cmd_lists_why)

    bench = sub.add_parser("bench", help="print speed and memory figures", parents=[plain])
    bench.add_argument("what", choices=["night", "demo-data", "load", "identity", "clv"],
                       help="what to measure: a whole night per step, demo-data generation, the loader, identity "
                            "resolution or the CLV fit")
    bench.add_argument("--scale", type=_positive(float), default=1.0,
                       help="size of the demo data: 1 = about 10k people (default 1)")
    bench.add_argument("--tmp", help="scratch folder (default: system temp)")
    bench.add_argument("--new", type=_positive(int), default=10_000,
                       help="identity: records held out for the incremental night")
    bench.add_argument("--customers", type=_positive(int), default=1_000_000, help="clv: simulated customers")
    bench.add_argument("--no-events", action="store_true",
                       help="identity: CRM and list records only (no web visitors), for very large scales")
    bench.add_argument("--records", action="append", metavar="FILE",
                       help="identity: score your own labelled records instead of demo data; a CRM customer file "
                            "(source_customer_id), a list file (list_record_id), a list folder or a whole landing "
                            "zone; repeat for several files")
    bench.add_argument("--json", metavar="FILE", help="night: also write the figures as JSON to FILE")
    bench.add_argument("--incremental", action="store_true",
                       help="night: then add one day of deliveries and run the next night on the same warehouse")
    bench.add_argument("--truth", metavar="FILE",
                       help="identity with --records: CSV of true clusters, source,source_record_id,person_id "
                            "or <record id>,<cluster id>")
    bench.set_defaults(fn=cmd_bench)
    return p


def _plain(exc: BaseException) -> str:
    """An error as a sentence for the user: its own message, without the class name; the class only when
    the message is empty (the traceback is in the log)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):  # str() of a KeyError is a repr
        text = exc.args[0].strip().splitlines()[0] if exc.args[0].strip() else ""
    if isinstance(exc, OSError) and exc.strerror:  # not "[Errno 28] ...": what happened, and to which file
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text or f"unexpected {type(exc).__name__}"


def _log_file() -> Path | None:
    """The log file the command writes to (set up by _setup_logging), if any."""
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler) and h.get_name() == LOG_HANDLER:
            return Path(h.baseFilename)
    return None


def _configure_console() -> None:
    """Not a terminal: no wrapping and no styling (Rich wraps at 80 columns when it cannot ask the width)."""
    if not console.is_terminal:
        console.width = PLAIN_WIDTH
        console.soft_wrap = True


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    _configure_console()
    args = build_parser().parse_args(argv)  # a command-line mistake exits here with code 2
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the user; the traceback in the log (and with --debug)
        if args.debug:
            raise
        logdir = (_home_of(args) / "logs").resolve()
        current = _log_file()
        if current is None or current.resolve().parent != logdir:  # this command's home, not an earlier one's
            _setup_logging(logdir)
        logging.getLogger("bullseye").error("bullseye %s failed", args.command, exc_info=True)
        console.print(f"[red]error: {escape(_plain(exc))}[/red] [dim](details in {_log_file()}, or run again "
                      f"with --debug)[/dim]", soft_wrap=True)
        return 1


def _home_of(args: argparse.Namespace) -> Path:
    """The home a command's log goes to: the same rule as its outputs (beside --warehouse when only it is given)."""
    return resolve_paths(getattr(args, "home", None), getattr(args, "warehouse", None))[0]


def cmd_lists_why(args: argparse.Namespace) -> int:
    """Why PERSON is or is not on each of the night's lists (bullseye.activation.why). The person is never
    written to the log (PIPL): only to the terminal of the operator who asked."""
    from bullseye.activation.why import WhyError, explain, find_people, latest_night
    from bullseye.warehouse import connect

    _, warehouse = resolve_paths(args.home, args.warehouse)
    if not warehouse.exists():
        console.print(f"[red]no warehouse at {warehouse}: run `bullseye run` first or pass --warehouse[/red]",
                      soft_wrap=True)
        return 1
    con = connect(warehouse, read_only=True)
    try:
        try:
            night = args.as_of or latest_night(con)
            people = find_people(con, args.person)
            answers = explain(con, [p.customer_id for p in people], night) if people else []
        except WhyError as exc:
            console.print(f"[red]{exc}[/red]", soft_wrap=True)
            return 1
    finally:
        con.close()
    if not people:
        console.print(f"[red]nobody in {warehouse.name} is named by {args.person!r} (a phone, email, "
                      f"customer id or name)[/red]", soft_wrap=True)
        return 1
    if len(people) > 1:
        console.print(f"{len(people)} people match: " + ", ".join(
            f"{p.customer_id} ({p.name or 'no name'})" for p in people), soft_wrap=True)
    table = Table(title=f"Lists of the night of {night}", title_justify="left")
    for col in ("customer", "campaign", "outcome", "why"):
        table.add_column(col, overflow="fold")
    names = {p.customer_id: p.name for p in people}
    for a in answers:
        who = f"{a.customer_id} {names.get(a.customer_id) or ''}".strip()
        style = {"included": "green", "excluded": "yellow", "deferred": "yellow"}.get(a.outcome)
        table.add_row(who, a.campaign_id, f"[{style}]{a.outcome}[/{style}]" if style else a.outcome, a.why)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
