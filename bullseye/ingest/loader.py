"""Load a landing zone into the ``raw`` schema, once per delivery, with a ledger.

Every input row ends up either in ``raw.<source>`` or in ``meta.quarantine``
(held back whole, with the reason and the original record), and every value
that could not be read is listed in ``meta.quarantine`` too (the row goes on
without it). ``meta.load_ledger`` records each delivery file by checksum, so a
re-run of the same night loads nothing twice. Each delivery is one
transaction: a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from bullseye.ingest.readers import Batch, UnreadableFile, checksum, read_file
from bullseye.ingest.sources import LIST_MANIFEST_REQUIRED, SOURCES, SQL_TYPES, SourceSpec

log = logging.getLogger(__name__)

# Parsing rules shared by the loader and the dbt models (they live in the warehouse).
MACROS = r"""
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE OR REPLACE MACRO bz_clean_dt(s) AS nullif(trim(regexp_replace(
    replace(replace(replace(replace(s, '年', '-'), '月', '-'), '日', ' '), '/', '-'), '\s+', ' ', 'g')), '');
CREATE OR REPLACE MACRO bz_parse_ts(s) AS CASE
    WHEN regexp_matches(bz_clean_dt(s), '(Z|[+-]\d\d:?\d\d)$') THEN timezone('Asia/Shanghai', try_strptime(
        bz_clean_dt(s), ['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %H:%M:%S%z', '%Y-%m-%dT%H:%M:%S.%f%z',
                         '%Y-%m-%dT%H:%M%z']))
    ELSE try_strptime(bz_clean_dt(s), ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S.%f',
        '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M', '%Y-%m-%d', '%Y%m%d', '%Y%m%d%H%M%S'])
    END;
CREATE OR REPLACE MACRO bz_parse_date(s) AS CAST(bz_parse_ts(s) AS DATE);
CREATE OR REPLACE MACRO bz_parse_decimal(s) AS
    TRY_CAST(replace(replace(replace(trim(s), ',', ''), '¥', ''), '￥', '') AS DECIMAL(18, 2));
CREATE OR REPLACE MACRO bz_parse_int(s) AS TRY_CAST(trim(s) AS BIGINT);
CREATE OR REPLACE MACRO bz_parse_bool(s) AS CASE
    WHEN lower(trim(s)) IN ('true', 't', '1', 'yes', 'y', '是') THEN true
    WHEN lower(trim(s)) IN ('false', 'f', '0', 'no', 'n', '否') THEN false END;
CREATE SEQUENCE IF NOT EXISTS meta.delivery_seq START 1;
CREATE TABLE IF NOT EXISTS meta.load_ledger (
    delivery_id BIGINT PRIMARY KEY, source VARCHAR, path VARCHAR, checksum VARCHAR, size_bytes BIGINT,
    encoding VARCHAR, rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT,
    values_quarantined BIGINT, outcome VARCHAR, message VARCHAR, run_id VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS meta.quarantine (
    delivery_id BIGINT, source VARCHAR, path VARCHAR, line BIGINT, column_name VARCHAR, value VARCHAR,
    reason VARCHAR, action VARCHAR, record VARCHAR);
CREATE TABLE IF NOT EXISTS raw.list_manifests (
    list_id VARCHAR, vendor VARCHAR, acquired_at DATE, legal_basis VARCHAR, permitted_channels VARCHAR[],
    expires_at DATE, cost DECIMAL(18, 2), manifest VARCHAR, _delivery_id BIGINT);
"""

# Plausibility rules beyond "can it be parsed": (source, column) -> (SQL condition on typed value, reason)
PLAUSIBLE = {
    ("crm_customers", "birth_date"): ("BETWEEN DATE '1900-01-01' AND current_date", "implausible birth date"),
    ("lists", "birth_date"): ("BETWEEN DATE '1900-01-01' AND current_date", "implausible birth date"),
    ("lists", "age"): ("BETWEEN 0 AND 120", "implausible age"),
}


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


@dataclass
class LoadReport:
    deliveries: list[DeliveryResult] = field(default_factory=list)

    def total(self, attr: str, include_skipped: bool = False) -> int:
        return sum(getattr(d, attr) for d in self.deliveries
                   if include_skipped or d.outcome != "skipped_duplicate")

    @property
    def new_deliveries(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.outcome != "skipped_duplicate"]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create raw/meta tables and the parsing macros; safe to call every run."""
    con.execute(MACROS)
    for spec in SOURCES.values():
        cols = ", ".join(f'"{c}" {SQL_TYPES[t]}' for c, t in spec.columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} ({cols}, _extra VARCHAR, "
                    "_delivery_id BIGINT, _line BIGINT)")


def discover(landing: Path) -> list[tuple[SourceSpec, Path, Path | None]]:
    """All delivery files in the landing zone, in a stable order: (spec, file, list manifest)."""
    found = []
    for spec in SOURCES.values():
        folder = landing / spec.name
        if not folder.is_dir():
            continue
        if spec.nested:
            for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
                manifest = sub / "manifest.json"
                for f in sorted(sub.iterdir()):
                    if f.is_file() and f.name != "manifest.json" and not f.name.startswith("."):
                        found.append((spec, f, manifest))
        else:
            for f in sorted(folder.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    found.append((spec, f, None))
    return found


def load_landing(con: duckdb.DuckDBPyConnection, landing: Path, run_id: str,
                 on_delivery: Callable[[DeliveryResult], None] | None = None) -> LoadReport:
    """Load every new delivery under ``landing``; already-loaded files are skipped by checksum."""
    ensure_schema(con)
    report = LoadReport()
    for spec, path, manifest in discover(landing):
        result = load_delivery(con, spec, path, landing, run_id, manifest)
        report.deliveries.append(result)
        if on_delivery:
            on_delivery(result)
    return report


def load_delivery(con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, landing: Path,
                  run_id: str, manifest: Path | None = None) -> DeliveryResult:
    rel = str(path.relative_to(landing)) if path.is_relative_to(landing) else str(path)
    digest = checksum(path)
    seen = con.execute("SELECT path FROM meta.load_ledger WHERE checksum = ? AND source = ? LIMIT 1",
                       [digest, spec.name]).fetchall()  # fetchall: a half-read result blocks the connection
    seen = seen[0] if seen else None
    if seen:
        return DeliveryResult(spec.name, rel, "skipped_duplicate", message=f"already loaded as {seen[0]}")
    delivery_id = con.execute("SELECT nextval('meta.delivery_seq')").fetchall()[0][0]
    res = DeliveryResult(spec.name, rel, "loaded")
    con.begin()
    try:
        list_id, declared, problem = (None, None, None)
        if manifest is not None:
            list_id, declared, problem = _load_manifest(con, manifest, path.parent.name, delivery_id)
        batches, res.encoding = read_file(path, declared)
        for batch in batches:
            if list_id is not None:
                if "list_id" not in batch.columns:
                    batch.columns = [*batch.columns, "list_id"]  # a new list: the reader keeps its own
                batch.rows["list_id"] = [list_id] * len(batch.lines)
            _load_batch(con, spec, batch, delivery_id, rel, res, file_problem=problem)
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
    elif res.outcome == "loaded" and (res.rows_quarantined or res.values_quarantined):
        res.outcome = "loaded_with_issues"
    if res.rows_quarantined and not res.message:
        res.message = _top_reasons(con, delivery_id)
    con.execute("INSERT INTO meta.load_ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
        delivery_id, spec.name, rel, digest, path.stat().st_size, res.encoding, res.rows_in,
        res.rows_loaded, res.rows_quarantined, res.values_quarantined, res.outcome, res.message,
        run_id, datetime.now()])
    con.commit()
    if res.outcome != "loaded":
        log.warning("%s: %s (%s rows held, %s values dropped) %s", rel, res.outcome,
                    res.rows_quarantined, res.values_quarantined, res.message)
    return res


def _top_reasons(con: duckdb.DuckDBPyConnection, delivery_id: int) -> str:
    rows = con.execute("""SELECT coalesce(column_name || ': ', '') || reason AS r, count(*) n
        FROM meta.quarantine WHERE delivery_id = ? AND action = 'row_held' GROUP BY r ORDER BY n DESC, r LIMIT 3""",
                       [delivery_id]).fetchall()
    return "; ".join(f"{r} ({n})" for r, n in rows)


def _load_manifest(con, manifest: Path, folder_name: str, delivery_id: int
                   ) -> tuple[str, str | None, str | None]:
    """Read a list manifest. Returns (list_id, declared encoding, problem that holds all rows back)."""
    if not manifest.exists():
        return folder_name, None, f"lists/{folder_name}/manifest.json is missing: no legal basis on record"
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return folder_name, None, f"manifest.json is not valid JSON: {exc}"
    missing = [k for k in LIST_MANIFEST_REQUIRED if not meta.get(k)]
    if missing:
        return str(meta.get("list_id") or folder_name), meta.get("encoding"), \
            f"manifest.json lacks required field(s): {', '.join(missing)}"
    channels = meta.get("permitted_channels") or []
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",") if c.strip()]
    exists = con.execute("SELECT 1 FROM raw.list_manifests WHERE list_id = ? AND manifest = ?",
                         [meta["list_id"], json.dumps(meta, ensure_ascii=False, sort_keys=True)]).fetchall()
    if not exists:
        con.execute("""INSERT INTO raw.list_manifests VALUES (?, ?, bz_parse_date(?), ?, ?, bz_parse_date(?),
                       bz_parse_decimal(?), ?, ?)""",
                    [meta["list_id"], meta["vendor"], str(meta["acquired_at"]), meta["legal_basis"],
                     [str(c).lower() for c in channels], str(meta.get("expires_at") or "") or None,
                     str(meta.get("cost") or "") or None, json.dumps(meta, ensure_ascii=False, sort_keys=True),
                     delivery_id])
    return str(meta["list_id"]), meta.get("encoding"), None


def _quote(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _problem_exprs(spec: SourceSpec, present: set[str], file_problem: str | None) -> list[str]:
    """SQL struct literals, one per rule, each yielding a reason or NULL for a row."""
    out = []

    def add(col: str, val: str, reason: str, fatal: bool) -> None:
        out.append(f"struct_pack(col := '{col}', val := {val}, reason := {reason}, fatal := {str(fatal).lower()})")

    if file_problem:
        add("", "NULL::VARCHAR", "'" + file_problem.replace("'", "''") + "'", True)
    for col, typ in spec.columns.items():
        if col not in present:
            continue
        src = _quote(col)
        typed = _typed(col, typ, present)
        required = col in spec.required
        if required:
            add(col, src, f"CASE WHEN {src} IS NULL THEN 'missing required value' "
                          f"WHEN {typed} IS NULL THEN 'unreadable {typ}' END", True)
        elif typ not in ("text", "json"):
            add(col, src, f"CASE WHEN {src} IS NOT NULL AND {typed} IS NULL THEN 'unreadable {typ}' END", False)
        if (spec.name, col) in PLAUSIBLE:
            cond, reason = PLAUSIBLE[(spec.name, col)]
            add(col, src, f"CASE WHEN {typed} IS NOT NULL AND NOT ({typed} {cond}) THEN '{reason}' END", required)
        if col in spec.enums:
            allowed = ", ".join(f"'{v}'" for v in spec.enums[col])
            add(col, src, f"CASE WHEN {src} IS NOT NULL AND lower(trim({src})) NOT IN ({allowed}) "
                          f"THEN 'unknown value (expected one of {', '.join(spec.enums[col])})' END", required)
    for group in spec.one_of:
        cols = [_quote(c) for c in group if c in present]
        expr = f"coalesce({', '.join(cols)})" if cols else "NULL"
        add("|".join(group), "NULL::VARCHAR",
            f"CASE WHEN {expr} IS NULL THEN 'none of {', '.join(group)} has a value' END", True)
    return out


def _typed(col: str, typ: str, present: set[str]) -> str:
    src = _quote(col) if col in present else "NULL::VARCHAR"
    fn = {"date": "bz_parse_date", "ts": "bz_parse_ts", "decimal": "bz_parse_decimal",
          "int": "bz_parse_int", "bool": "bz_parse_bool"}.get(typ)
    return f"{fn}({src})" if fn else src


def _load_batch(con, spec: SourceSpec, batch: Batch, delivery_id: int, rel: str, res: DeliveryResult,
                file_problem: str | None = None) -> None:
    present = set(batch.columns)
    missing_required = [c for c in spec.required if c not in present]
    if missing_required and batch.lines:
        file_problem = (f"missing required column(s): {', '.join(missing_required)}"
                        + (f"; {file_problem}" if file_problem else ""))
        res.message = f"missing required column(s): {', '.join(missing_required)}"
    res.rows_in += len(batch.lines) + len(batch.broken)
    if batch.broken:
        con.executemany("INSERT INTO meta.quarantine VALUES (?, ?, ?, ?, NULL, NULL, ?, 'row_held', ?)",
                        [(delivery_id, spec.name, rel, line, reason, text) for line, text, reason in batch.broken])
        res.rows_quarantined += len(batch.broken)
    if not batch.lines:
        return
    arrow = batch.to_arrow()  # noqa: F841 - registered with DuckDB by name below
    con.register("_batch", arrow)
    extra = [c for c in batch.columns if c not in spec.columns]
    extra_sql = ("to_json(struct_pack(" + ", ".join(f"{_quote(c)} := {_quote(c)}" for c in extra) + "))::VARCHAR"
                 if extra else "NULL::VARCHAR")
    typed_cols = ", ".join(f"{_typed(c, t, present)} AS {_quote(c)}" for c, t in spec.columns.items())
    problems = _problem_exprs(spec, present, file_problem)
    problems_sql = (f"list_filter([{', '.join(problems)}], lambda p: p.reason IS NOT NULL)" if problems
                    else "[]::STRUCT(col VARCHAR, val VARCHAR, reason VARCHAR, fatal BOOLEAN)[]")
    record_sql = "to_json(struct_pack(" + ", ".join(f"{_quote(c)} := {_quote(c)}" for c in batch.columns) + "))"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _typed AS
        SELECT *, len(list_filter(_problems, lambda p: p.fatal)) > 0 AS _held FROM (
          SELECT _line, {typed_cols}, {extra_sql} AS _extra, {problems_sql} AS _problems,
                 {record_sql}::VARCHAR AS _record FROM _batch)""")
    con.unregister("_batch")
    cols = ", ".join(_quote(c) for c in spec.columns)
    con.execute(f"""INSERT INTO {spec.table} ({cols}, _extra, _delivery_id, _line)
                    SELECT {cols}, _extra, {delivery_id}, _line FROM _typed WHERE NOT _held""")
    con.execute(f"""INSERT INTO meta.quarantine
        SELECT {delivery_id}, '{spec.name}', ?, _line, nullif(p.col, ''), p.val, p.reason,
               CASE WHEN _held THEN 'row_held' ELSE 'value_dropped' END,
               CASE WHEN _held THEN _record END
        FROM (SELECT _line, _held, _record, unnest(_problems) AS p FROM _typed)""", [rel])
    held, dropped, total = con.execute("""SELECT count(*) FILTER (_held),
        sum(len(_problems)) FILTER (NOT _held), count(*) FROM _typed""").fetchall()[0]
    res.rows_quarantined += held
    res.values_quarantined += int(dropped or 0)
    res.rows_loaded += total - held
    con.execute("DROP TABLE _typed")


def _quarantine_file(con, delivery_id: int, source: str, path: Path, rel: str, reason: str,
                     res: DeliveryResult) -> None:
    """A file that cannot be read at all: account for each of its lines, keeping the raw bytes."""
    lines = _raw_lines(path)
    if path.suffix.lower() == ".csv":
        lines = lines[1:]  # the header is not a row
    con.executemany("INSERT INTO meta.quarantine VALUES (?, ?, ?, ?, NULL, NULL, ?, 'row_held', ?)",
                    [(delivery_id, source, rel, no, f"file rejected: {reason}", text) for no, text in lines])
    res.rows_in = res.rows_quarantined = len(lines)


def _raw_lines(path: Path) -> list[tuple[int, str]]:
    with path.open("rb") as fh:
        return [(no, line.rstrip(b"\r\n").decode("latin-1")[:2000]) for no, line in enumerate(fh, start=1)]
