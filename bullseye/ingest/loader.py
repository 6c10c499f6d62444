"""Load a landing zone into the ``raw`` schema, once per delivery, with a ledger.

Every input row ends up either in ``raw.<source>`` or in ``meta.quarantine``
(held back whole, with the reason and the original record), and every value
that could not be read is listed in ``meta.quarantine`` too (the row goes on
without it). ``meta.load_ledger`` records each delivery file by checksum, so a
re-run of the same night loads nothing twice. Each delivery is one
transaction: a crash never leaves half a file behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from bullseye.ingest.call_outcomes import NOT_CALLED
from bullseye.ingest.call_outcomes import macro_sql as call_outcome_macro
from bullseye.ingest.call_outcomes import stage_sql as call_outcome_sql
from bullseye.ingest.licences import (
    PURGE_DDL,
    Verdict,
    basis_macro_sql,
    judge_manifest,
    purge_expired_lists,
    store_terms,
)
from bullseye.ingest.privacy import DEFAULT_SALT_NOTE, hash_staged_ids, id_salt, migrate_clear_ids, redact_text
from bullseye.ingest.readers import (
    BATCH_ROWS,
    DELIMITERS,
    JSON_LINES,
    PARQUET,
    FileScan,
    UnreadableFile,
    detect_encoding,
    raw_lines,
    scan_file,
    transcode_to_utf8,
)
from bullseye.ingest.rules import (
    EXTRA_DECIMALS,
    EXTRA_DECIMALS_DEFAULT,
    HOLDING,
    MULTILINE_OK,
    RULES,
    UNREADABLE,
    register_functions,
    render,
)
from bullseye.ingest.sources import ID_CARD_INPUT_COLUMNS, SOURCES, SQL_TYPES, SourceSpec
from bullseye.ingest.stage import RECORD_KEEP, Staged, keep, stage_csv, stage_jsonl, stage_parquet
from bullseye.privacy.forget_filter import hold_forgotten

log = logging.getLogger(__name__)

# Parsing rules the loader applies in SQL, as warehouse macros (no dbt model uses them).
MACROS = r"""
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE OR REPLACE MACRO bz_clean_dt(s) AS nullif(trim(regexp_replace(
    replace(replace(replace(replace(s, '年', '-'), '月', '-'), '日', ' '), '/', '-'), '\s+', ' ', 'g')), '');
CREATE OR REPLACE MACRO bz_has_offset(s) AS (right(rtrim(s), 1) = 'Z' OR substr(rtrim(s), -6, 1) IN ('+', '-')
    OR substr(rtrim(s), -5, 1) IN ('+', '-')) AND regexp_matches(rtrim(s), '(Z|[+-]\d\d:?\d\d)$');
CREATE OR REPLACE MACRO bz_parse_ts(s) AS CASE
    WHEN bz_has_offset(s) THEN timezone('Asia/Shanghai', coalesce(TRY_CAST(trim(s) AS TIMESTAMPTZ), try_strptime(
        bz_clean_dt(s), ['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %H:%M:%S%z', '%Y-%m-%dT%H:%M:%S.%f%z',
                         '%Y-%m-%dT%H:%M%z'])))
    ELSE coalesce(CASE WHEN NOT contains(s, '+') THEN TRY_CAST(s AS TIMESTAMP) END, try_strptime(bz_clean_dt(s),
        ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S.%f',
        '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M', '%Y-%m-%d', '%Y%m%d', '%Y%m%d%H%M%S']))
    END;
CREATE OR REPLACE MACRO bz_parse_date(s) AS CAST(bz_parse_ts(s) AS DATE);
CREATE OR REPLACE MACRO bz_parse_decimal(s) AS
    TRY_CAST(replace(replace(replace(trim(s), ',', ''), '¥', ''), '￥', '') AS DECIMAL(18, 2));
CREATE OR REPLACE MACRO bz_parse_int(s) AS TRY_CAST(trim(s) AS BIGINT);
CREATE OR REPLACE MACRO bz_parse_bool(s) AS CASE
    WHEN lower(trim(s)) IN ('true', 't', '1', 'yes', 'y', '是') THEN true
    WHEN lower(trim(s)) IN ('false', 'f', '0', 'no', 'n', '否') THEN false END;
CREATE OR REPLACE MACRO bz_parse_flag(s) AS CASE
    WHEN lower(trim(s)) IN ('true', 't', '1', '1.0', 'yes', 'y', '是', 'td', '退订', '退', '已退订', '取消订阅',
        'unsubscribe', 'unsubscribed', 'opt-out', 'opt_out', 'optout', 'opted out', 'opted_out', 'stop',
        '投诉', 'complaint', 'complained') THEN true
    WHEN lower(trim(s)) IN ('false', 'f', '0', '0.0', 'no', 'n', '否') THEN false END;
CREATE OR REPLACE MACRO bz_extra_decimals(s) AS strpos(s, '.') > 0 AND length(s) - strpos(s, '.') > 2 AND
    regexp_matches(replace(replace(replace(trim(s), ',', ''), '¥', ''), '￥', ''), '\.[0-9]{2}[0-9]*[1-9]');
CREATE SEQUENCE IF NOT EXISTS meta.delivery_seq START 1;
CREATE TABLE IF NOT EXISTS meta.load_ledger (
    delivery_id BIGINT PRIMARY KEY, source VARCHAR, path VARCHAR, checksum VARCHAR, size_bytes BIGINT,
    encoding VARCHAR, rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT,
    values_quarantined BIGINT, outcome VARCHAR, message VARCHAR, run_id VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS meta.quarantine (
    delivery_id BIGINT, source VARCHAR, path VARCHAR, line BIGINT, column_name VARCHAR, value VARCHAR,
    reason VARCHAR, action VARCHAR, record VARCHAR);
ALTER TABLE meta.load_ledger ADD COLUMN IF NOT EXISTS rows_warned BIGINT;
ALTER TABLE meta.load_ledger ADD COLUMN IF NOT EXISTS rows_blocked BIGINT;
ALTER TABLE meta.load_ledger ADD COLUMN IF NOT EXISTS context VARCHAR;
ALTER TABLE meta.quarantine ADD COLUMN IF NOT EXISTS severity VARCHAR;
CREATE TABLE IF NOT EXISTS raw.list_manifests (
    list_id VARCHAR, vendor VARCHAR, acquired_at DATE, legal_basis VARCHAR, permitted_channels VARCHAR[],
    expires_at DATE, cost DECIMAL(18, 2), manifest VARCHAR, _delivery_id BIGINT);
"""

FINAL_OUTCOMES = ("loaded", "loaded_with_issues")
_Q_COLS = "delivery_id, source, path, line, column_name, value, reason, action, record, severity"
_LEDGER_COLS = ("delivery_id, source, path, checksum, size_bytes, encoding, rows_in, rows_loaded, rows_quarantined, "
                "values_quarantined, outcome, message, run_id, loaded_at, rows_warned, rows_blocked, context")


@dataclass
class DeliveryResult:
    source: str
    path: str
    outcome: str  # loaded, loaded_with_issues, rejected, skipped_duplicate
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    values_quarantined: int = 0
    encoding: str = ""
    message: str = ""
    rows_warned: int = 0
    rows_blocked: int = 0


@dataclass
class LoadReport:
    deliveries: list[DeliveryResult] = field(default_factory=list)
    # What the night must say in its summary: a default ID salt, lists never contacted or
    # refused, expired lists purged (bullseye.pipeline appends them to NightSummary.notes).
    notes: list[str] = field(default_factory=list)
    # List manifests judged tonight (ledger source list_manifests); not counted as row deliveries.
    manifests: list[DeliveryResult] = field(default_factory=list)

    def total(self, attr: str, include_skipped: bool = False) -> int:
        return sum(getattr(d, attr) for d in self.deliveries
                   if include_skipped or d.outcome != "skipped_duplicate")

    @property
    def new_deliveries(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.outcome != "skipped_duplicate"]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create raw/meta tables and the parsing macros; safe to call every run.

    A warehouse loaded before ID numbers were hashed at load gets its clear column hashed
    in place and dropped here (bullseye.ingest.privacy.migrate_clear_ids)."""
    con.execute(MACROS)
    con.execute(call_outcome_macro())
    con.execute(basis_macro_sql())
    register_functions(con)
    con.execute(PURGE_DDL)
    for spec in SOURCES.values():
        cols = ", ".join(f'"{c}" {SQL_TYPES[t]}' for c, t in spec.columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} ({cols}, _extra VARCHAR, "
                    "_delivery_id BIGINT, _line BIGINT)")
        for c, t in spec.columns.items():  # a column added to the contract reaches old warehouses
            con.execute(f'ALTER TABLE {spec.table} ADD COLUMN IF NOT EXISTS "{c}" {SQL_TYPES[t]}')
    migrate_clear_ids(con)


@dataclass
class Discovery:
    """The landing zone's files: deliveries, list folders, files no source claims, and refused paths."""

    found: list[tuple[SourceSpec, Path, Path | None]] = field(default_factory=list)
    strays: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)  # never read, not even checksummed
    list_folders: list[tuple[str, Path]] = field(default_factory=list)  # (folder name, its manifest path)


def _escapes(p: Path, root: Path) -> str | None:
    """Why a link may not be followed: it resolves outside the landing zone (None: it stays inside)."""
    try:
        real = p.resolve(strict=False)
    except (OSError, RuntimeError) as exc:
        return f"is a link that cannot be resolved ({exc}); not read"
    if real == root or real.is_relative_to(root):
        return None
    return f"resolves outside the landing zone (to {real}); refused, not read"


def _walk(folder: Path, root: Path, out: Discovery) -> list[Path]:
    """Every delivery file under ``folder`` (subfolders included, hidden ones skipped), in a stable
    order. A file or folder that is a link out of the landing zone is refused, never opened."""
    files: list[Path] = []
    seen: set[Path] = set()

    def visit(d: Path) -> None:
        real = d.resolve()
        if real in seen:  # a link back into a folder already read
            return
        seen.add(real)
        for p in sorted(d.iterdir()):
            if p.name.startswith("."):
                continue
            why = _escapes(p, root) if p.is_symlink() else None
            if why:
                out.refused.append((p, why))
            elif p.is_dir():
                visit(p)
            elif p.is_file():
                files.append(p)
            else:
                out.refused.append((p, "is not a regular file (a broken link, a pipe or a device); not read"))

    visit(folder)
    return sorted(files)


def discover(landing: Path) -> Discovery:
    """All delivery files, in a stable order, with the list folders and their manifests; files
    that belong to no source, each with the reason (they get a ``rejected`` ledger row, never
    silence); and links out of the landing zone (a ``rejected`` ledger row; never read).

    Source folders are matched case-insensitively (``Orders/`` is ``orders/``) and
    read with their subfolders (``orders/2026-11/x.csv``). Folders whose name
    starts with ``_`` or ``.`` are private (e.g. the demo's ``_truth``).
    """
    out = Discovery()
    root = landing.resolve()
    expected = ", ".join(f"{s}/" for s in SOURCES)
    for top in sorted(landing.iterdir()):
        if top.name.startswith((".", "_")):
            continue
        why = _escapes(top, root) if top.is_symlink() else None
        if why:
            out.refused.append((top, why))
            continue
        spec = SOURCES.get(top.name.lower()) if top.is_dir() else None
        if spec is None:
            why = (f"folder {top.name}/ is not a source folder (expected one of {expected})" if top.is_dir()
                   else f"file is not in a source folder (expected one of {expected})")
            out.strays += [(f, why) for f in ([top] if top.is_file() else _walk(top, root, out))]
            continue
        files = _walk(top, root, out)
        if not spec.nested:
            out.found += [(spec, f, None) for f in files]
            continue
        refused_dirs = {p for p, _ in out.refused if p.parent == top}
        out.list_folders += [(d.name, d / "manifest.json") for d in sorted(top.iterdir())
                             if d.is_dir() and not d.name.startswith(".") and d not in refused_dirs]
        for f in files:
            rel = f.relative_to(top)
            if len(rel.parts) == 1:
                out.strays.append((f, f"a list file belongs in {top.name}/<list_id>/ beside its manifest.json"))
            elif not (len(rel.parts) == 2 and rel.name == "manifest.json"):
                out.found.append((spec, f, top / rel.parts[0] / "manifest.json"))
    return out


def load_landing(con: duckdb.DuckDBPyConnection, landing: Path, run_id: str,
                 on_delivery: Callable[[DeliveryResult], None] | None = None,
                 as_of: date | None = None) -> LoadReport:
    """Load every new delivery under ``landing``; files already loaded are skipped by checksum.

    List manifests are judged first (bullseye.ingest.licences), then every delivery file is
    loaded, then lists whose licence expired before ``as_of`` are purged. ``as_of`` defaults
    to ``run_id`` read as a date (a night's run id is its date).
    """
    ensure_schema(con)
    report = LoadReport()
    if id_salt()[1]:
        report.notes.append(DEFAULT_SALT_NOTE)
    found = discover(landing)
    refused_paths = {p: why for p, why in found.refused}
    verdicts: dict[Path, Verdict] = {}
    for folder, manifest in found.list_folders:
        verdict, result = _judge_list(con, folder, manifest, landing, run_id, refused_paths.get(manifest))
        verdicts[manifest] = verdict
        if result is not None:
            report.manifests.append(result)
        report.notes += _list_notes(verdict)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The next file's bytes are scanned (checksum, lines) while DuckDB loads this one.
        ahead: Future[FileScan] | None = pool.submit(_scan, found.found[0][1]) if found.found else None
        for i, (spec, path, manifest) in enumerate(found.found):
            scan = ahead.result() if ahead is not None else _scan(path)
            ahead = pool.submit(_scan, found.found[i + 1][1]) if i + 1 < len(found.found) else None
            result = load_delivery(con, spec, path, landing, run_id, manifest,
                                   verdict=verdicts.get(manifest) if manifest else None, scan=scan)
            report.deliveries.append(result)
            if on_delivery:
                on_delivery(result)
    for path, why in found.strays:
        report.deliveries.append(_record_stray(con, path, landing, run_id, why))
    for path, why in found.refused:
        report.deliveries.append(_record_refused(con, path, landing, run_id, why))
        report.notes.append(f"{_rel(path, landing)} {why}")
    report.notes += _purge(con, run_id, as_of)
    report.notes += _call_sheet_notes(con, run_id)
    return report


def _purge(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date | None) -> list[str]:
    """The night's expired-list purge (bullseye.ingest.licences.purge_expired_lists); its notes."""
    if as_of is None:
        try:
            as_of = date.fromisoformat(run_id)
        except ValueError:
            return [f"expired lists not purged: run id {run_id!r} is not a date and no as_of was given"]
    done, notes = purge_expired_lists(con, as_of, run_id)
    return done + notes


def _list_notes(v: Verdict) -> list[str]:
    """What the summary says about a list tonight: never contacted, or its manifest refused."""
    if v.accepted:
        return [f"list {v.folder}: {i}" for i in v.issues]
    if v.exists and v.message:
        return [v.message]
    return []


def _judge_list(con: duckdb.DuckDBPyConnection, folder: str, manifest: Path, landing: Path, run_id: str,
                refused: str | None) -> tuple[Verdict, DeliveryResult | None]:
    """Judge a list folder's manifest; a changed manifest is a delivery of its own (ledger source
    ``list_manifests``) and, if accepted, its terms go in force. Unchanged: judged, not re-recorded."""
    rel = _rel(manifest, landing)
    verdict = judge_manifest(con, manifest, folder, rel, refused)
    if refused or not verdict.exists:
        return verdict, None
    scan = scan_file(manifest, check_text=False)
    last = con.execute("""SELECT checksum FROM meta.load_ledger WHERE source = 'list_manifests' AND path = ?
        ORDER BY delivery_id DESC LIMIT 1""", [rel]).fetchall()
    if last and last[0][0] == scan.checksum:
        return verdict, DeliveryResult("list_manifests", rel, "skipped_duplicate", message="manifest unchanged")
    outcome = ("loaded_with_issues" if verdict.issues else "loaded") if verdict.accepted else "rejected"
    res = DeliveryResult("list_manifests", rel, outcome, message=verdict.message)
    delivery_id = _next_id(con)
    con.begin()
    try:
        if verdict.accepted and verdict.terms is not None:
            store_terms(con, verdict.terms, delivery_id)
        _ledger(con, delivery_id, "list_manifests", rel, scan, res, run_id, "")
        con.commit()
    except Exception:
        con.rollback()
        raise
    if outcome != "loaded":
        log.warning("%s: %s %s", rel, outcome, verdict.message)
    return verdict, res


def _record_refused(con: duckdb.DuckDBPyConnection, path: Path, landing: Path, run_id: str,
                    why: str) -> DeliveryResult:
    """A link out of the landing zone: a ``rejected`` ledger row (once per link and target); its
    content is never opened, so the ledger's checksum is that of the link's target path."""
    rel = _rel(path, landing)
    source = rel.split("/")[0].lower() if "/" in rel else ""
    target = os.readlink(path) if path.is_symlink() else str(path)
    digest = "link:" + hashlib.sha256(target.encode("utf-8", "surrogateescape")).hexdigest()
    if _rejected_before(con, source, rel, digest, ""):
        return DeliveryResult(source, rel, "skipped_duplicate", message="refused before and unchanged: " + why)
    res = DeliveryResult(source, rel, "rejected", message=why)
    con.begin()
    _ledger(con, _next_id(con), source, rel, FileScan(checksum=digest, size=0, newlines=0, ends_with_newline=False),
            res, run_id, "")
    con.commit()
    log.warning("%s: %s", rel, why)
    return res


def _rel(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix() if path.is_relative_to(landing) else str(path)


def _record_stray(con: duckdb.DuckDBPyConnection, path: Path, landing: Path, run_id: str,
                  why: str) -> DeliveryResult:
    """A file no source claims: a ``rejected`` ledger row (once per content and place)."""
    rel = _rel(path, landing)
    scan = scan_file(path, check_text=False)
    source = rel.split("/")[0].lower() if "/" in rel else ""
    if _rejected_before(con, source, rel, scan.checksum, ""):
        return DeliveryResult(source, rel, "skipped_duplicate", message="rejected before and unchanged: " + why)
    res = DeliveryResult(source, rel, "rejected", message=why)
    con.begin()
    _ledger(con, _next_id(con), source, rel, scan, res, run_id, "")
    con.commit()
    log.warning("%s: rejected: %s", rel, why)
    return res


def _next_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT nextval('meta.delivery_seq')").fetchall()[0][0]


def _rejected_before(con: duckdb.DuckDBPyConnection, source: str, rel: str, digest: str, context: str) -> bool:
    return bool(con.execute("""SELECT 1 FROM meta.load_ledger WHERE checksum = ? AND source = ? AND path = ?
        AND coalesce(context, '') = ? AND outcome = 'rejected' LIMIT 1""",
                            [digest, source, rel, context]).fetchall())


def _context(manifest: Path | None, verdict: Verdict | None = None) -> str:
    """What else decides a delivery's fate besides its bytes (a list's manifest)."""
    if manifest is None:
        return ""
    if verdict is not None and verdict.refused:
        return "manifest:refused"
    return "manifest:" + (scan_file(manifest, check_text=False).checksum if manifest.exists() else "missing")


def _scan(path: Path) -> FileScan:
    return scan_file(path, check_text=path.suffix.lower() != PARQUET)


def load_delivery(con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, landing: Path,
                  run_id: str, manifest: Path | None = None, verdict: Verdict | None = None,
                  scan: FileScan | None = None) -> DeliveryResult:
    """Load one file in one transaction. Only a loaded delivery is final: a rejected one is tried
    again when its bytes, its place or its manifest change (e.g. the missing manifest arrives).

    A list file's id is its folder; its rows are held whole when the folder's manifest gives
    no terms to load them under (``verdict.hold``, judged once per night by load_landing).
    ``scan`` is the file's :func:`scan_file` when the caller already has it (scanned ahead)."""
    rel = _rel(path, landing)
    if manifest is not None and verdict is None:
        verdict = judge_manifest(con, manifest, manifest.parent.name, _rel(manifest, landing))
    scan = scan if scan is not None else _scan(path)
    context = _context(manifest, verdict)
    # The same bytes in another list's folder are another list's records (or a folder copying them).
    within = "/".join(rel.split("/")[:2]) + "/" if spec.nested else ""
    seen = con.execute(f"""SELECT path FROM meta.load_ledger WHERE checksum = ? AND source = ?
        AND outcome IN {FINAL_OUTCOMES} AND starts_with(path, ?) LIMIT 1""",
                       [scan.checksum, spec.name, within]).fetchall()
    if seen:
        return DeliveryResult(spec.name, rel, "skipped_duplicate", message=f"already loaded as {seen[0][0]}")
    if _rejected_before(con, spec.name, rel, scan.checksum, context):
        return DeliveryResult(spec.name, rel, "skipped_duplicate",
                              message="rejected before and unchanged (file and manifest); fix it to load it")
    delivery_id = _next_id(con)
    res = DeliveryResult(spec.name, rel, "loaded")
    con.begin()
    try:
        list_id, declared, problem = (None, None, None)
        if manifest is not None and verdict is not None:
            list_id, declared, problem = manifest.parent.name, verdict.encoding, verdict.hold
        with tempfile.TemporaryDirectory(prefix="bullseye-load-") as scratch:
            staged, res.encoding = _stage(con, path, scan, declared, Path(scratch))
            staged.columns = hash_staged_ids(con, staged.columns, ID_CARD_INPUT_COLUMNS)
            if spec.name == "contacts" and "outcome" in staged.columns:  # a call sheet coming back
                staged.columns = _call_outcomes(con, staged.columns)
            if list_id is not None:
                if "list_id" not in staged.columns:
                    con.execute("ALTER TABLE _stage ADD COLUMN list_id VARCHAR")
                    staged.columns.append("list_id")
                con.execute("UPDATE _stage SET list_id = ?", [list_id])
            _load_staged(con, spec, staged, scan, delivery_id, rel, res, file_problem=problem)
    except UnreadableFile as exc:
        con.rollback()
        con.begin()
        res = DeliveryResult(spec.name, rel, "rejected", message=str(exc), encoding=res.encoding)
        _quarantine_file(con, delivery_id, spec.name, path, rel, str(exc), res)
    except Exception:
        con.rollback()
        raise
    if res.outcome == "loaded" and res.rows_in and res.rows_loaded == 0:
        res.outcome = "rejected"
    elif res.outcome == "loaded" and (res.rows_quarantined or res.values_quarantined or res.rows_warned):
        res.outcome = "loaded_with_issues"
    if res.rows_quarantined and not res.message:
        res.message = _top_reasons(con, delivery_id)
    _ledger(con, delivery_id, spec.name, rel, scan, res, run_id, context)
    con.commit()
    if res.outcome != "loaded":
        log.warning("%s: %s (%s rows held, %s values dropped, %s rows warned) %s", rel, res.outcome,
                    res.rows_quarantined, res.values_quarantined, res.rows_warned, res.message)
    return res


def _call_outcomes(con: duckdb.DuckDBPyConnection, columns: list[str]) -> list[str]:
    """Fill a staged call sheet's contact fields from its outcome column (bullseye.ingest.call_outcomes)."""
    statements, columns = call_outcome_sql(columns)
    for sql in statements:
        con.execute(sql)
    return columns


def _call_sheet_notes(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """What the summary says about call sheets that came back tonight: rows not called, unknown outcomes."""
    rows = con.execute("""SELECT q.path, count(*) FILTER (WHERE q.reason = ?),
            count(*) FILTER (WHERE q.reason LIKE 'unknown call outcome%')
        FROM meta.quarantine q JOIN meta.load_ledger l USING (delivery_id)
        WHERE l.run_id = ? AND q.source = 'contacts' AND q.column_name = 'outcome' AND q.action = 'row_held'
        GROUP BY 1 ORDER BY 1""", [NOT_CALLED, run_id]).fetchall()
    notes = []
    for path, not_called, unknown in rows:
        parts = ([f"{not_called} row(s) not called (outcome empty; not counted as contacts, their plans freed)"]
                 if not_called else [])
        parts += [f"{unknown} row(s) with an unknown outcome held in the quarantine"] if unknown else []
        notes.append(f"call sheet {path}: " + ", ".join(parts))
    return notes


def _ledger(con: duckdb.DuckDBPyConnection, delivery_id: int, source: str, rel: str, scan: FileScan,
            res: DeliveryResult, run_id: str, context: str) -> None:
    con.execute(f"INSERT INTO meta.load_ledger ({_LEDGER_COLS}) VALUES ({', '.join('?' * 17)})", [
        delivery_id, source, rel, scan.checksum, scan.size, res.encoding, res.rows_in, res.rows_loaded,
        res.rows_quarantined, res.values_quarantined, res.outcome, res.message, run_id, datetime.now(),
        res.rows_warned, res.rows_blocked, context])


def _stage(con: duckdb.DuckDBPyConnection, path: Path, scan: FileScan, declared: str | None,
           scratch: Path) -> tuple[Staged, str]:
    """Put the file's records into temp table ``_stage`` with DuckDB's readers. Returns (staged, encoding)."""
    suffix = path.suffix.lower()
    if suffix == PARQUET:
        return stage_parquet(con, path), "parquet"
    is_json = suffix in JSON_LINES
    if not is_json and suffix not in DELIMITERS:
        known = ", ".join(sorted([*DELIMITERS, *JSON_LINES, PARQUET]))
        raise UnreadableFile(f"unsupported file type {suffix!r} (expected one of {known})")
    codec, how = detect_encoding(path, scan, declared)
    source = path
    with path.open("rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    if codec != "utf-8-sig" or (is_json and bom):
        source = transcode_to_utf8(path, codec, scratch / f"utf8{suffix}")
    staged = (stage_jsonl(con, source, scan, scratch) if is_json
              else stage_csv(con, source, scan, scratch, DELIMITERS[suffix]))
    return staged, f"{codec} ({how})"


def _top_reasons(con: duckdb.DuckDBPyConnection, delivery_id: int) -> str:
    rows = con.execute("""SELECT coalesce(column_name || ': ', '') || reason AS r, count(*) n
        FROM meta.quarantine WHERE delivery_id = ? AND action = 'row_held' GROUP BY r ORDER BY n DESC, r LIMIT 3""",
                       [delivery_id]).fetchall()
    return "; ".join(f"{r} ({n})" for r, n in rows)


def _quote(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _t(col: str) -> str:
    """Name of a column's typed value inside the typing query."""
    return _quote("__t_" + col)


def _problem_exprs(spec: SourceSpec, present: set[str], file_problem: str | None, scan: FileScan,
                   staged: Staged) -> list[tuple[str, str, str, str]]:
    """One (column, value SQL, reason SQL, severity) per check; the reason is NULL where a row passes."""
    out: list[tuple[str, str, str, str]] = []

    def add(col: str, val: str, reason: str, severity: str) -> None:
        out.append((col, val, reason, severity))

    if file_problem:
        add("", "NULL::VARCHAR", _lit(file_problem), "quarantine")
    typed = {c: _t(c) for c in spec.columns if c in present}
    raw = {c: _quote(c) for c in present}
    for col, typ in spec.columns.items():
        if col not in present:
            continue
        src, tv = _quote(col), _t(col)
        if col in spec.required:
            add(col, src, f"CASE WHEN {src} IS NULL THEN 'missing required value' "
                          f"WHEN {tv} IS NULL THEN 'unreadable {typ}' END", "quarantine")
        elif typ not in ("text", "json"):
            add(col, src, f"CASE WHEN {src} IS NOT NULL AND {tv} IS NULL THEN {_lit(_unreadable(typ))} END",
                UNREADABLE.get((spec.name, col), "drop_value"))
        if typ == "decimal":
            sev = EXTRA_DECIMALS.get((spec.name, col), EXTRA_DECIMALS_DEFAULT)
            add(col, src, f"CASE WHEN {tv} IS NOT NULL AND bz_extra_decimals({src}) THEN "
                          f"'more than 2 decimals (would round to ' || {tv}::VARCHAR || ')' END", sev)
        if col in spec.enums:
            allowed = ", ".join(f"'{v}'" for v in spec.enums[col])
            add(col, src, f"CASE WHEN {src} IS NOT NULL AND lower(trim({src})) NOT IN ({allowed}) "
                          f"THEN 'unknown value (expected one of {', '.join(spec.enums[col])})' END",
                "quarantine" if col in spec.required else "drop_value")
    for rule in RULES.get(spec.name, ()):
        cond = render(rule.condition, typed, raw)
        if cond is None or rule.column not in present:
            continue
        add(rule.column, _quote(rule.column), f"CASE WHEN {cond} THEN {_lit(rule.reason)} END", rule.severity)
    for group in spec.one_of:
        cols = [_quote(c) for c in group if c in present]
        expr = f"coalesce({', '.join(cols)})" if cols else "NULL"
        add("|".join(group), "NULL::VARCHAR",
            f"CASE WHEN {expr} IS NULL THEN 'none of {', '.join(group)} has a value' END", "quarantine")
    if scan.has_nul or scan.has_json_nul:
        for col in sorted(present):
            add(col, f"replace({_quote(col)}, chr(0), '\\0')",
                f"CASE WHEN contains({_quote(col)}, chr(0)) THEN 'NUL byte in value' END", "quarantine")
    if staged.multiline:
        for col in sorted((present & set(spec.columns)) - MULTILINE_OK):
            add(col, _quote(col), f"CASE WHEN contains({_quote(col)}, chr(10)) THEN "
                                  "'value spans lines where none is expected (an unbalanced quote?)' END", "quarantine")
    return out


def _unreadable(typ: str) -> str:
    if typ == "flag":
        return ("unreadable yes/no value (read as yes: true, 1, yes, y, 是, t, td, 退订, unsubscribed ...; "
                "as no: false, 0, no, n, 否)")
    return f"unreadable {typ}"


def _typed(col: str, typ: str, present: set[str]) -> str:
    src = _quote(col) if col in present else "NULL::VARCHAR"
    fn = {"date": "bz_parse_date", "ts": "bz_parse_ts", "decimal": "bz_parse_decimal",
          "int": "bz_parse_int", "bool": "bz_parse_bool", "flag": "bz_parse_flag"}.get(typ)
    return f"{fn}({src})" if fn else src


def _dropped(spec: SourceSpec, col: str, present: set[str]) -> str:
    """The typed value as stored: NULL where a ``drop_value`` rule fires."""
    typed = {c: _t(c) for c in spec.columns if c in present}
    raw = {c: _quote(c) for c in present}
    conds = [render(r.condition, typed, raw) for r in RULES.get(spec.name, ())
             if r.column == col and r.severity == "drop_value"]
    conds = [c for c in conds if c]
    if not conds or col not in present:
        return _t(col)
    return f"CASE WHEN coalesce({' OR '.join(f'({c})' for c in conds)}, false) THEN NULL ELSE {_t(col)} END"


def _load_staged(con: duckdb.DuckDBPyConnection, spec: SourceSpec, staged: Staged, scan: FileScan,
                 delivery_id: int, rel: str, res: DeliveryResult, file_problem: str | None = None) -> None:
    """Type, check and insert the staged rows; held rows and every issue go to the quarantine."""
    present = set(staged.columns)
    missing_required = [c for c in spec.required if c not in present]
    if missing_required and staged.rows:
        file_problem = (f"missing required column(s): {', '.join(missing_required)}"
                        + (f"; {file_problem}" if file_problem else ""))
        res.message = f"missing required column(s): {', '.join(missing_required)}"
    _quarantine_broken(con, delivery_id, spec.name, rel, staged)
    forgotten = hold_forgotten(con, spec.name, delivery_id, rel)  # PIPL Art. 47: a forgotten person stays out
    staged.rows -= forgotten
    res.rows_in += forgotten
    res.rows_quarantined += forgotten
    res.rows_in += staged.rows + len(staged.broken)
    res.rows_quarantined += len(staged.broken)
    if not staged.rows:
        return
    # blank text is no value (as a CSV reader reads an empty field)
    # (a blank text is empty or starts with one of the trimmed characters: below '!' or U+3000)
    cleaned = ", ".join(f"CASE WHEN ({_quote(c)} < '!' OR starts_with({_quote(c)}, '\u3000')) AND "
                        f"trim({_quote(c)}, ' \t\r\n\u3000') = '' THEN NULL ELSE {_quote(c)} END AS {_quote(c)}"
                        for c in staged.columns)
    extra = [c for c in staged.columns if c not in spec.columns]
    extra_sql = ("to_json(struct_pack(" + ", ".join(f"{_quote(c)} := {_quote(c)}" for c in extra) + "))::VARCHAR"
                 if extra else "NULL::VARCHAR")
    inner = ", ".join(f"{_typed(c, t, present)} AS {_t(c)}" for c, t in spec.columns.items())
    typed_cols = ", ".join(f"{_dropped(spec, c, present)} AS {_quote(c)}" for c in spec.columns)
    problems = _problem_exprs(spec, present, file_problem, scan, staged)
    # Every row gets a cheap flag; only flagged rows build their list of problems.
    flag = " OR ".join(f"({reason}) IS NOT NULL" for _, _, reason, _ in problems) or "false"
    structs = [f"struct_pack(col := {_lit(col)}, val := {val}, reason := {reason}, sev := {_lit(sev)})"
               for col, val, reason, sev in problems]
    problems_sql = (f"list_filter([{', '.join(structs)}], lambda p: p.reason IS NOT NULL)" if structs
                    else "[]::STRUCT(col VARCHAR, val VARCHAR, reason VARCHAR, sev VARCHAR)[]")
    held = " OR ".join(f"list_contains(list_transform(_problems, lambda p: p.sev), '{s}')" for s in HOLDING)
    # One pass types every row once (the parse macros are the expensive part) into ``_typed``; only
    # rows with a problem carry their list of problems. Raw and ``_issues`` are both read from it.
    # OFFSET 0 keeps DuckDB from pasting the cleaning CASE into every use of a column inside the
    # parse macros (bz_parse_ts names its argument a dozen times), and each typed value into every
    # rule that reads it: clean once, parse once, then check.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _typed AS
        SELECT _line, {typed_cols}, {extra_sql} AS _extra, CASE WHEN {flag} THEN {problems_sql} END AS _problems
        FROM (SELECT *, {inner} FROM (SELECT {cleaned}, _line FROM _stage OFFSET 0) OFFSET 0)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _issues AS
        SELECT _line, _problems, coalesce({held}, false) AS _held FROM _typed WHERE _problems IS NOT NULL""")
    cols = ", ".join(_quote(c) for c in spec.columns)
    con.execute(f"""INSERT INTO {spec.table} ({cols}, _extra, _delivery_id, _line)
        SELECT {cols}, _extra, {delivery_id}, _line FROM _typed
        WHERE _problems IS NULL OR _line NOT IN (SELECT _line FROM _issues WHERE _held)""")
    con.execute("DROP TABLE _typed")
    record_sql = "to_json(struct_pack(" + ", ".join(f"{_quote(c)} := s.{_quote(c)}" for c in staged.columns) + "))"
    con.execute(f"""INSERT INTO meta.quarantine ({_Q_COLS})
        SELECT {delivery_id}, {_lit(spec.name)}, {_lit(rel)}, t._line, nullif(p.col, ''), {_cut('p.val')}, p.reason,
               CASE WHEN t._held THEN 'row_held' WHEN p.sev = 'warn' THEN 'warned' ELSE 'value_dropped' END,
               CASE WHEN t._held THEN {_cut(record_sql + '::VARCHAR')} END, p.sev
        FROM (SELECT _line, _held, unnest(_problems) AS p FROM _issues) t
        JOIN _stage s ON s._line = t._line""")
    counts = con.execute("""SELECT count(*) FILTER (_held),
        sum(len(list_filter(_problems, lambda p: p.sev = 'drop_value'))) FILTER (NOT _held),
        count(*) FILTER (NOT _held AND list_contains(list_transform(_problems, lambda p: p.sev), 'warn')),
        count(*) FILTER (_held AND list_contains(list_transform(_problems, lambda p: p.sev), 'block'))
        FROM _issues""").fetchall()[0]
    n_held, dropped, warned, blocked = counts
    res.rows_quarantined += n_held
    res.values_quarantined += int(dropped or 0)
    res.rows_warned += warned
    res.rows_blocked += blocked
    res.rows_loaded += staged.rows - n_held
    con.execute("DROP TABLE _issues; DROP TABLE _stage")


def _cut(expr: str) -> str:
    """SQL: a text kept in the quarantine, cut to RECORD_KEEP characters with a note if longer."""
    return (f"CASE WHEN length({expr}) > {RECORD_KEEP} THEN left({expr}, {RECORD_KEEP}) || ' …[truncated: kept "
            f"{RECORD_KEEP:,} of ' || format('{{:,}}', length({expr})) || ' characters]' ELSE {expr} END")


def _quarantine_broken(con: duckdb.DuckDBPyConnection, delivery_id: int, source: str, rel: str,
                       staged: Staged) -> None:
    salt = id_salt()[0]
    rows = [(delivery_id, source, rel, b.line, b.column, None, b.reason, "row_held", keep(redact_text(b.text, salt)),
             "quarantine") for b in staged.broken]
    for i in range(0, len(rows), BATCH_ROWS):
        con.executemany(f"INSERT INTO meta.quarantine ({_Q_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows[i:i + BATCH_ROWS])


def _quarantine_file(con, delivery_id: int, source: str, path: Path, rel: str, reason: str,
                     res: DeliveryResult) -> None:
    """A file that cannot be read at all: account for each of its lines, keeping the raw bytes."""
    skip_header = path.suffix.lower() in DELIMITERS
    rows, n = [], 0
    salt = id_salt()[0]
    for no, text in raw_lines(path):
        if skip_header and no == 1:
            continue
        rows.append((delivery_id, source, rel, no, None, None, f"file rejected: {reason}", "row_held",
                     redact_text(text, salt), "quarantine"))
        n += 1
        if len(rows) >= BATCH_ROWS:
            con.executemany(f"INSERT INTO meta.quarantine ({_Q_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows = []
    if rows:
        con.executemany(f"INSERT INTO meta.quarantine ({_Q_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    res.rows_in = res.rows_quarantined = n
