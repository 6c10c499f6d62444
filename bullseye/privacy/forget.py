"""``bullseye forget``: erase a person everywhere and remember only salted keys (PIPL Art. 47).

A request names the person by phone, email, ID-card number or customer_id
(:func:`bullseye.privacy.person.locate`). Under the warehouse's lock
(:func:`bullseye.night.night_lock`, so no night runs meanwhile) it:

1. rewrites every export folder (``exports/<date>/``, and a night's staged one; its call sheets too) without
   the person's rows (CSV, Parquet and every sheet of each ``.xlsx``, a workbook rewritten by the exports'
   writer), and the table rows of the night report (``report.html``) that hold one of the person's values,
   updating the manifest's row counts and checksums and noting the erasure;
2. erases the person from every other DuckDB file the home keeps (a backfill's warehouse, a
   night's working copy held back by an identity-drift alarm, a staged publication);
3. erases the person from the committed warehouse as one transaction on a copy that replaces
   the file by an atomic rename (as a night commits): every schema, raw to marts, snapshots,
   identity state; rows that account for a delivery or a night (``meta.load_ledger``,
   ``meta.nights``, ``identity.runs``, ``meta.quarantine``) are kept with the person's values
   blanked, so that "every input row is loaded or quarantined" still adds up;
4. publishes again from the erased warehouse (:func:`bullseye.publish.publish`).

The same transaction adds to ``meta.forget_list`` one keyed hash
(:func:`bullseye.privacy.keys.forget_key`) per identifier the person carried (phones, emails,
ID-card hashes, WeChat unionids, member cards, source records, customer ids) and to
``meta.forget_requests`` what was done (counts per table, no clear value). The loader consults
the forget-list (:mod:`bullseye.privacy.forget_filter`) so that no later delivery brings the
person back. An identifier another person also carries (a family's shared phone) is neither
erased from that person's rows nor added to the forget-list; the report says how many.

Steps 1-4 run in that order so that a request killed half-way can simply be run again: until
step 3 the person is still found in the warehouse; after it, a re-run publishes again.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from bullseye.config import RunConfig
from bullseye.privacy.keys import forget_key
from bullseye.privacy.person import Person, locate, row_condition, table_columns, text_matcher
from bullseye.publish import sql_identifier
from bullseye.warehouse import apply_limits, connect

log = logging.getLogger(__name__)

REASON = "forgotten at the person's request"
ERASED = "[erased at the person's request]"
FORGET_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.forget_list (request_id VARCHAR, kind VARCHAR, key_hash VARCHAR, added_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS meta.forget_requests (
    request_id VARCHAR, requested_at TIMESTAMP, looked_up_by VARCHAR, people INTEGER, keys_added INTEGER,
    rows_erased BIGINT, rows_blanked BIGINT, export_rows_erased BIGINT, shared_identifiers VARCHAR,
    tables VARCHAR);
"""
# Tables whose rows account for deliveries and nights: kept, with the person's values blanked.
BLANK_ONLY = {("meta", "load_ledger"), ("meta", "nights"), ("identity", "runs"), ("meta", "quarantine")}
OWN_TABLES = {("meta", "forget_list"), ("meta", "forget_requests")}


@dataclass
class ForgetReport:
    request_id: str
    looked_up_by: str
    people: int
    keys_added: int = 0
    rows_erased: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows deleted (warehouse)
    rows_blanked: dict[str, int] = field(default_factory=dict)
    other_databases: list[str] = field(default_factory=list)
    export_rows_erased: int = 0
    export_files_rewritten: int = 0
    shared: dict[str, int] = field(default_factory=dict)
    published: str = ""


def forget(cfg: RunConfig, kind: str, value: str) -> ForgetReport:
    """Carry out one request (see the module docstring); holds the warehouse lock throughout."""
    from bullseye.night import night_lock

    if not cfg.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {cfg.warehouse}: nothing to forget from (pass --warehouse)")
    with night_lock(cfg, "forget"):
        con = connect(cfg.warehouse, read_only=True)
        try:
            person = locate(con, kind, value)
        finally:
            con.close()
        report = ForgetReport(request_id=uuid.uuid4().hex[:16], looked_up_by=kind,
                              people=1 if person.records else 0, shared=dict(person.shared))
        requested_at = datetime.now()
        for folder in export_folders(cfg):
            removed, files = scrub_export_folder(folder, person, report.request_id, requested_at)
            report.export_rows_erased += removed
            report.export_files_rewritten += files
        for other in other_databases(cfg):
            erase_database(other, person, report, requested_at, record=other.parent.parent.name == ".nights")
            report.other_databases.append(str(other))
        erased, blanked = erase_database(cfg.warehouse, person, report, requested_at, record=True)
        report.rows_erased, report.rows_blanked = erased, blanked
        report.published = str(_publish_again(cfg, report.request_id))
    log.info("forget request %s: %s rows erased, %s export rows, %s keys", report.request_id,
             sum(report.rows_erased.values()), report.export_rows_erased, report.keys_added)
    return report


def export_folders(cfg: RunConfig) -> list[Path]:
    """Every night's export folder, and one a night in progress has staged."""
    roots = [cfg.home / "exports"]
    found = [d for root in roots if root.is_dir() for d in sorted(root.iterdir())
             if d.is_dir() and not d.name.startswith(".")]
    staging = cfg.home / ".staging"
    if staging.is_dir():
        found += [d / "exports" for d in sorted(staging.iterdir()) if (d / "exports").is_dir()]
    return found


def other_databases(cfg: RunConfig) -> list[Path]:
    """DuckDB files besides the warehouse and publication that hold warehouse data."""
    name = cfg.warehouse.name
    found = sorted((cfg.warehouse.parent / ".nights").glob(f"*/{name}"))
    found += sorted((cfg.home / "backfills").glob("*/*.duckdb"))
    found += sorted((cfg.home / ".staging").glob("*/published/*.duckdb"))
    return [p for p in found if p.is_file()]


# --- the database ---------------------------------------------------------------------------

def erase_database(path: Path, person: Person, report: ForgetReport, requested_at: datetime,
                   record: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Erase the person from one DuckDB file as one transaction on a copy swapped in by rename.

    With ``record`` the forget-list and the request are written too (a warehouse, or a night's
    working copy that will become one). Returns rows deleted and rows blanked per table."""
    tmp = path.with_name(f".{path.name}.forget-{os.getpid()}")
    _copy_db(path, tmp)
    try:
        con = apply_limits(duckdb.connect(str(tmp)))
        try:
            con.execute("BEGIN TRANSACTION")
            erased, blanked = erase_rows(con, person)
            if record:
                con.execute(FORGET_DDL)
                report.keys_added = add_to_forget_list(con, person, report.request_id, requested_at)
                con.execute("INSERT INTO meta.forget_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    report.request_id, requested_at, report.looked_up_by, report.people, report.keys_added,
                    sum(erased.values()), sum(blanked.values()), report.export_rows_erased,
                    json.dumps(person.shared), json.dumps({"erased": erased, "blanked": blanked})])
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
        Path(f"{path}.wal").unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return erased, blanked


def _copy_db(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    wal = Path(f"{src}.wal")
    if wal.exists():
        shutil.copyfile(wal, f"{dst}.wal")


def erase_rows(con: duckdb.DuckDBPyConnection, person: Person) -> tuple[dict[str, int], dict[str, int]]:
    """Delete the person's rows from every table (blank them in BLANK_ONLY tables)."""
    erased: dict[str, int] = {}
    blanked: dict[str, int] = {}
    if person.is_empty():
        return erased, blanked
    for (schema, table), columns in table_columns(con).items():
        if (schema, table) in OWN_TABLES:
            continue
        name = f"{sql_identifier(schema)}.{sql_identifier(table)}"
        if (schema, table) in BLANK_ONLY:
            n = _blank(con, name, person, columns, quarantine=(schema, table) == ("meta", "quarantine"))
            if n:
                blanked[f"{schema}.{table}"] = n
            continue
        cond = row_condition(person, columns)
        if cond is None:
            continue
        n = con.execute(f"DELETE FROM {name} WHERE {cond}").fetchall()[0][0]
        if n:
            erased[f"{schema}.{table}"] = n
    return erased, blanked


def _blank(con: duckdb.DuckDBPyConnection, name: str, person: Person, columns: list[tuple[str, str]],
           quarantine: bool) -> int:
    """Blank the person's values and keep the row; returns the rows touched."""
    if quarantine:  # the held row's values and record go; file, line and reason stay for the accounts
        cond = row_condition(person, columns)
        if cond is None:
            return 0
        return con.execute(f"""UPDATE {name} SET value = NULL, record = NULL,
            reason = reason || ' (values erased: {REASON.replace("'", "''")})' WHERE {cond}""").fetchall()[0][0]
    touched = 0
    for col, typ in columns:
        if typ != "VARCHAR":
            continue
        cond = row_condition(person, [(col, typ)])
        if cond:
            touched += con.execute(f"UPDATE {name} SET {sql_identifier(col)} = ? WHERE {cond}",
                                   [ERASED]).fetchall()[0][0]
    return touched


def add_to_forget_list(con: duckdb.DuckDBPyConnection, person: Person, request_id: str,
                       at: datetime) -> int:
    """One keyed hash per identifier of the person (never the value); returns how many were new."""
    wanted = {("phone", v) for v in person.phones} | {("email", v) for v in person.emails}
    wanted |= {("id_card", v) for v in person.id_hashes} | {("wechat_unionid", v) for v in person.unionids}
    wanted |= {("member_card", v) for v in person.member_cards} | {("record", v) for v in person.record_keys}
    wanted |= {("customer_id", v) for v in person.customer_ids}
    keys = {(kind, forget_key(kind, v)) for kind, v in wanted}
    keys = {(k, h) for k, h in keys if h}
    have = set(con.execute("SELECT kind, key_hash FROM meta.forget_list").fetchall())
    new = sorted(keys - have)
    if new:
        con.executemany("INSERT INTO meta.forget_list VALUES (?, ?, ?, ?)",
                        [(request_id, k, h, at) for k, h in new])
    return len(new)


def _publish_again(cfg: RunConfig, request_id: str) -> Path | None:
    """The BI copy, rebuilt from the erased warehouse (only where one was published before)."""
    from bullseye.publish import publish

    if not cfg.published.exists():
        return None
    con = connect(cfg.warehouse, read_only=True)
    try:
        has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' AND table_name = 'nights'"
                          ).fetchall()[0][0]
        night = con.execute("SELECT max(as_of) FROM meta.nights WHERE kind = 'night'").fetchall()[0][0] if has else None
    finally:
        con.close()
    publish(cfg.warehouse, cfg.published, f"{night or ''} (forget request {request_id})".strip())
    return cfg.published


# --- the export files -----------------------------------------------------------------------

def scrub_export_folder(folder: Path, person: Person, request_id: str, at: datetime) -> tuple[int, int]:
    """Rewrite a night's export folder without the person; swapped in whole. Returns (rows, files)."""
    from bullseye.night import swap_dir

    matches = text_matcher(person)
    if matches is None:
        return 0, 0
    plan = {f: rows_to_drop(f, matches) for f in export_files(folder)}
    plan = {f: masks for f, masks in plan.items() if any(m.any() for m in masks.values())}
    pages = [f for f in sorted(folder.glob("*.html")) if _html_rows(f.read_text(encoding="utf-8"), matches)]
    if not plan and not pages:
        return 0, 0
    work = folder.with_name(f".{folder.name}.forget-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work)
    removed = 0
    checksums = {}
    for f, masks in plan.items():
        if f.suffix != ".xlsx":  # an xlsx holds the same rows as its CSV: counted once
            removed += sum(int(m.sum()) for m in masks.values())
        rel = f.relative_to(folder).as_posix()  # call sheets sit in call_sheets/<store>/
        rows, digest = _rewrite(f, work / rel, masks)
        checksums[rel] = {"rows": rows, "sha256": digest}
    for page in pages:  # the night report: its per-person rows go; its counts stay those of the night
        text = page.read_text(encoding="utf-8")
        (work / page.name).write_text(_TR.sub(lambda m: "" if matches(m.group(0)) else m.group(0), text),
                                      encoding="utf-8")
    manifest = work / "manifest.json"
    if manifest.exists():
        _update_manifest(manifest, checksums, request_id, at, removed)
    swap_dir(work, folder)
    return removed, len(plan) + len(pages)


# a table row of an HTML page the export step writes (report.html: one row per person and campaign in its
# "why" table); rows are written whole by pandas' to_html, never nested
_TR = re.compile(r"<tr[ >].*?</tr>\s*", re.DOTALL)


def _html_rows(text: str, matches) -> int:
    """How many table rows of a page hold one of the person's values."""
    return sum(1 for m in _TR.finditer(text) if matches(m.group(0)))


EXPORT_SUFFIXES = (".csv", ".xlsx", ".parquet")


def export_files(folder: Path) -> list[Path]:
    """A night's CSV, xlsx and Parquet files, the call sheets in its subfolders included."""
    return sorted(f for f in folder.rglob("*") if f.suffix in EXPORT_SUFFIXES and f.is_file())


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_sheets(path: Path) -> dict[str, pd.DataFrame]:
    """An export file's rows by sheet: a workbook's sheets, or one unnamed sheet for CSV and Parquet."""
    from bullseye.activation.exports import read_xlsx

    return read_xlsx(path) if path.suffix == ".xlsx" else {"": _read(path)}


def rows_to_drop(path: Path, matches) -> dict[str, pd.Series]:
    """Per sheet, which rows hold one of the person's values (any cell)."""
    return {name: df.apply(lambda row: any(matches(v) for v in row.tolist()), axis=1) if len(df)
            else pd.Series([], dtype=bool) for name, df in read_sheets(path).items()}


def _rewrite(src: Path, dst: Path, drop: dict[str, pd.Series]) -> tuple[int, str]:
    """Write ``src`` without the dropped rows to ``dst`` in the format it came in; returns rows left and checksum.

    A workbook is written again by the exports' own writer (text-typed contact columns, frozen header, an
    outcome dropdown), sheet by sheet, so it looks as the night wrote it."""
    import hashlib

    from bullseye.activation.exports import write_xlsx

    kept = {name: df[~drop[name].to_numpy()] if len(df) else df for name, df in read_sheets(src).items()}
    if src.suffix == ".xlsx":
        write_xlsx(kept, dst)
    elif src.suffix == ".parquet":
        kept[""].to_parquet(dst, index=False)
    else:  # the cells were made safe for Excel when first written: written back as they are
        kept[""].to_csv(dst, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_ALL)
    return sum(len(df) for df in kept.values()), hashlib.sha256(dst.read_bytes()).hexdigest()


def _update_manifest(path: Path, checksums: dict, request_id: str, at: datetime, removed: int) -> None:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for c in manifest.get("campaigns", []):
        for name, entry in c.get("files", {}).items():
            if name in checksums:
                entry.update(checksums[name])
    sheets = manifest.get("call_sheets", {})
    for entry in sheets.get("sheets", []):
        if entry["file"] in checksums:
            sheets["calls"] -= entry["rows"] - checksums[entry["file"]]["rows"]
            entry.update(checksums[entry["file"]])
        if entry.get("xlsx_file") in checksums:
            entry["xlsx_sha256"] = checksums[entry["xlsx_file"]]["sha256"]
    manifest.setdefault("erasures", []).append(
        {"request_id": request_id, "at": at.isoformat(timespec="seconds"), "reason": REASON, "rows_removed": removed})
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
