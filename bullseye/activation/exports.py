"""Write each campaign's list for the run date: files marketers open, a manifest, and a diff.

Under ``exports/<run_date>/``, as CSV (UTF-8 with a BOM, so Excel shows Chinese names), as an Excel
workbook (``.xlsx``) beside each CSV, and as Parquet:

- ``<campaign>.csv``: the campaign's whole list for the night, one row per person, with the
  channel and one ``contact`` value (the phone, email, WeChat unionid or one-line postal
  address that channel uses), and the name only for channels that address people by name;
- ``<campaign>__<channel>.csv``: the same people split by channel, each file carrying only
  that channel's fields, ready for the SMS gateway, the mail house or the call centre.

Both carry the wave, the offer code and the audience columns the campaign's ``export_columns`` names
(``mgc_growth``: ``next_best_category``, the category its offer is for), so the message can say what the
offer is; the manifest lists those columns per campaign.

The CSV files are opened in Excel, so no cell may run as a formula (CSV injection, OWASP): a
text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
single quote, and every field is quoted. Domestic phones are written as the 11-digit national
number (``13812345678``, not ``+8613812345678``, which would also start with ``+``). The Parquet
copies are read by programs, not spreadsheets: they keep the values exactly as stored, phones in
E.164 (``+8613812345678``). The manifest says which phone format each file uses (``phone_formats``, and
``phones`` per file): ``national`` for CSV and xlsx (a valid +86 mobile or landline as its national number
without spaces, ``13812345678`` or ``01012345678``; a foreign number stays E.164, ``+14155552671``, since a
national form would be misdialled from China), ``e164`` for Parquet.

The ``.xlsx`` beside each CSV (written with xlsxwriter; openpyxl reads it back) is for marketers who open the
lists in Excel: contact columns (phone, contact, customer_id, every ``*_id`` and ``*_code``) are text cells
formatted as text, so Excel never turns ``13812345678`` into ``1.38E+10`` or drops an id's leading zeros; every
text cell is a string cell, so nothing in it runs as a formula (no leading quote needed, the value shows as
stored); the header row is frozen and filterable and columns are as wide as their content. The campaign's
workbook (``<campaign>.xlsx``) has one sheet per channel, each with that channel's own fields; the others one
sheet. A workbook's bytes depend on its rows alone (fixed document and zip dates), so a re-run night's files keep
their manifest checksums.

``call_sheets/`` holds tomorrow's phone calls as one sheet per salesperson and per store
(bullseye.activation.call_sheets); a filled-in sheet comes back through ``contacts/``.

Holdout members stay in ``marts.target_lists`` but are never written to a contact file.
``<campaign>__changes.csv`` lists who was added and removed against the previous night and
why. ``manifest.json`` ties every file to the definition that produced it (its SHA-256), the
counts by reason code, and the files' checksums.

A night's folder appears whole or not at all. Everything is written into a sibling folder
(``exports/.<run_date>.tmp-<pid>``) and swapped in by renames once the manifest is written:
the previous folder is renamed away (``.<run_date>.old-<pid>``), the new one renamed in, the old
one removed. A run killed or failing half-way leaves the previous night's folder (or none) under
the final name; the next run removes the leftover and, if a kill fell between the two renames,
first puts the previous folder back.
"""

from __future__ import annotations

import csv
import errno
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from bullseye.activation.campaigns import (
    AUDIENCE_COLUMNS,
    CHANNEL_FIELDS,
    CONTACT_FIELD,
    NOT_EXPORTABLE,
    Campaign,
)
from bullseye.warehouse import connect

# The dbt model of the night's list rows with their contact fields (its relation comes from dbt's manifest).
LIST_CONTACTS = "int_activation__list_contacts"


class ExportError(RuntimeError):
    """A night's export could not be written; the message names the file, and the last good folder stands."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(path: Path, writer: Callable[[Path], None]) -> None:
    """Run ``writer(path)``; any failure (a full disk, a writer bug) becomes an ExportError naming the file."""
    try:
        writer(path)
    except Exception as e:
        why = "the disk is full" if isinstance(e, OSError) and e.errno == errno.ENOSPC else f"{type(e).__name__}: {e}"
        raise ExportError(f"could not write export file {path.name} ({path}): {why}") from e


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PHONE_CHANNELS = ("sms", "phone")


def excel_safe_text(value: object) -> object:
    """A text cell as Excel must see it: a leading ``'`` when it would otherwise start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def domestic_phone(value: object) -> object:
    """A valid Chinese number as its 11-digit national number; any other value unchanged.

    Marketers and call-centre dialers expect ``13812345678``; a foreign number keeps its
    ``+<country>`` form (and is then neutralised like any text starting with ``+``)."""
    if not isinstance(value, str) or not value.strip():
        return value
    return _domestic_text(value)


@functools.lru_cache(maxsize=1 << 17)
def _domestic_text(value: str) -> str:
    """:func:`domestic_phone` of a text, remembered: a night writes each list's phones four times (CSV and xlsx,
    per channel and for the whole campaign), and parsing a number is the costly part."""
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return value
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "")


def national_phones(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with domestic phones as national numbers (the ``phone`` column, and ``contact`` on phone rows)."""
    out = df.copy()
    if "phone" in out:
        out["phone"] = out["phone"].map(domestic_phone)
    if "contact" in out and "channel" in out:
        by_phone = out["channel"].isin(PHONE_CHANNELS)
        out.loc[by_phone, "contact"] = out.loc[by_phone, "contact"].map(domestic_phone)
    return out


def for_excel(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as it is written to CSV: domestic phones national, no text cell that runs as a formula."""
    return excel_safe(national_phones(df))


def excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`for_excel` of a frame whose phones are already national: no text cell that runs as a formula."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(excel_safe_text)
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV for Excel: UTF-8 with a BOM (Chinese text shows), every field quoted, no formula cell."""
    _save(path, lambda p: for_excel(df).to_csv(p, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_ALL))


def write_csv_cells(path: Path, header: list[str], rows: list[list]) -> None:
    """Rows already made safe by :func:`for_excel`, written as :func:`write_csv` writes them (BOM, every field
    quoted, empty for no value): for many small files (call sheets), where pandas' per-file cost dominates."""
    def write(p: Path) -> None:
        with p.open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            out.writerow(header)
            out.writerows(rows)
    _save(path, write)


# How each kind of file writes a phone (the manifest's ``phone_formats``, and ``phones`` on each file entry).
PHONE_FORMATS = {".csv": "national", ".xlsx": "national", ".parquet": "e164"}
PHONE_FORMAT_NOTES = {
    "national": "CSV and xlsx: a valid Chinese number (+86, mobile or landline) as its national number without "
                "spaces (mobile 13812345678, landline 01012345678); a foreign number stays E.164 (+14155552671)",
    "e164": "Parquet: every phone as stored, E.164 (+8613812345678), for programs",
}

# xlsx: columns written as text cells formatted as text (@), so Excel never turns them into numbers or dates
# (a phone into 1.38E+10, an id's leading zeros dropped), even when a cell is edited.
TEXT_COLUMNS = ("phone", "contact", "customer_id", "contact_id", "offer_code", "order_id", "postal_code")
XLSX_MAX_WIDTH = 60
# An outcome column (a call sheet's) gets a dropdown of these values (bullseye.ingest.call_outcomes).
OUTCOME_COLUMN = "outcome"


def _is_text_column(name: str) -> bool:
    return name in TEXT_COLUMNS or name.endswith(("_id", "_code", "_ids"))


def _display_width(value: object) -> int:
    """Characters Excel needs to show a value: a CJK character takes two columns."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet title: at most 31 characters, none of ``[]:*?/\\``, no ``'`` first or last."""
    title = re.sub(r"[\[\]:*?/\\]", "_", name)[:31].strip("'") or "sheet"
    base, n = title, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[:28]}~{n}"
    taken.add(title.lower())
    return title


def _cell_value(value: object) -> object:
    """A value as it is written to xlsx: missing as empty, numpy scalars as Python ones, text without the control
    characters the xlsx format cannot hold."""
    if type(value) is str:
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, (int, float, bool)):
        return value
    return str(value)


# Fixed document times (docProps/core.xml; xlsxwriter dates the zip entries 1980-01-01 itself): the same rows
# always give the same bytes, so a re-run night's files keep their manifest checksums.
XLSX_CREATED = datetime(1980, 1, 1)
# Above this many rows a workbook is written row by row to temporary files (xlsxwriter's constant_memory): memory
# stays flat for a large list; below it, everything stays in memory (no temporary files: many small call sheets).
XLSX_STREAM_ROWS = 20_000


def _outcome_validation() -> dict:
    from bullseye.ingest.call_outcomes import OUTCOMES

    return {"validate": "list", "source": list(OUTCOMES), "ignore_blank": True, "error_type": "warning",
            "error_title": "outcome",
            "error_message": "Not one of the outcomes the loader reads: " + ", ".join(OUTCOMES)}


def _add_sheet(wb, title: str, cols: list[str], rows: list[list], text_format) -> None:
    """One sheet: header row frozen and filterable, columns as wide as their content, text columns text-typed,
    every text cell a string cell (never a formula), an outcome column a dropdown of the allowed outcomes."""
    ws = wb.add_worksheet(title)
    ws.freeze_panes(1, 0)
    for i, col in enumerate(cols):
        widest = max([_display_width(col), *(_display_width(r[i]) for r in rows[:500])])
        # in pixels of Calibri 11 (7 a character), so the stored width is exactly min(widest + 2, 60) characters
        ws.set_column_pixels(i, i, 7 * min(widest + 2, XLSX_MAX_WIDTH))
    if cols:
        ws.autofilter(0, 0, len(rows), len(cols) - 1)
    if OUTCOME_COLUMN in cols:
        j = cols.index(OUTCOME_COLUMN)
        ws.data_validation(1, j, max(len(rows), 1) + 199, j, _outcome_validation())  # room for rows a caller adds
    for j, col in enumerate(cols):
        ws.write_string(0, j, ILLEGAL_CHARACTERS_RE.sub("", col))
    text = [_is_text_column(c) for c in cols]
    write_string, write_number, write_boolean, write_blank = ws.write_string, ws.write_number, ws.write_boolean, \
        ws.write_blank
    for i, r in enumerate(rows, start=1):
        for j, (raw, as_text) in enumerate(zip(r, text, strict=True)):
            value = _cell_value(raw)
            if value is None:
                if as_text:
                    write_blank(i, j, None, text_format)  # empty, but formatted as text for what is typed in
            elif as_text:
                write_string(i, j, value if type(value) is str else str(value), text_format)
            elif type(value) is str:
                write_string(i, j, value)  # a string cell, never a formula
            elif type(value) is bool:
                write_boolean(i, j, value)
            else:
                write_number(i, j, value)


def xlsx_sheets(sheets: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The sheets as written to xlsx: domestic phones national (values otherwise exactly as stored)."""
    return {name: national_phones(df) for name, df in sheets.items()}


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """An Excel workbook of one or more sheets (e.g. one per channel), for marketers: see :func:`_add_sheet`.

    Unlike the CSV, a text cell keeps its value without a leading quote: an xlsx string cell is never
    evaluated, so ``=HYPERLINK(...)`` in a name shows as those characters."""
    write_xlsx_cells(path, {name: ([str(c) for c in df.columns], df.astype(object).to_numpy().tolist())
                            for name, df in xlsx_sheets(sheets).items()})


def write_xlsx_cells(path: Path, sheets: dict[str, tuple[list[str], list[list]]]) -> None:
    """:func:`write_xlsx` of rows already in xlsx form (:func:`xlsx_sheets`: phones national), as a header and
    row lists per sheet: for many small files (call sheets), where a DataFrame per file costs more than the file.

    Written with xlsxwriter, dated :data:`XLSX_CREATED`, so the bytes depend on the rows alone."""
    import xlsxwriter

    stream = sum(len(rows) for _, rows in sheets.values()) > XLSX_STREAM_ROWS

    def write(p: Path) -> None:
        wb = xlsxwriter.Workbook(str(p), {
            "in_memory": not stream, "constant_memory": stream, "strings_to_numbers": False,
            "strings_to_formulas": False, "strings_to_urls": False, "nan_inf_to_errors": True})
        wb.set_properties({"created": XLSX_CREATED})
        text_format = wb.add_format({"num_format": "@"})
        taken: set[str] = set()
        for name, (cols, rows) in sheets.items():
            _add_sheet(wb, _sheet_title(name, taken), cols, rows, text_format)
        wb.close()  # only a whole workbook is written; on an error nothing is (the night's folder is dropped)
    _save(path, write)


def read_xlsx(path: Path) -> dict[str, pd.DataFrame]:
    """A workbook this module wrote, sheet by sheet, every cell as written (text stays text; empty is None)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        out = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # read every row as stored, not up to a recorded size
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            header = [str(h) for h in rows[0] if h is not None] if rows else []
            body = [(r + [None] * len(header))[:len(header)] for r in rows[1:]]  # empty trailing cells are not stored
            out[ws.title] = pd.DataFrame(body, columns=header, dtype=object)
        return out
    finally:
        wb.close()


def _entry(path: Path, rows: int) -> dict:
    """A file's manifest entry: rows, checksum, and how it writes phones (PHONE_FORMATS)."""
    return {"rows": rows, "sha256": _sha256(path), "phones": PHONE_FORMATS[path.suffix]}


def _write(df, base: Path, sheets: dict[str, pd.DataFrame] | None = None) -> dict:
    """CSV, xlsx and Parquet of one list; ``sheets`` gives the xlsx its sheets (default: one, of ``df``)."""
    csv_path, xlsx_path, parquet_path = (base.with_suffix(s) for s in (".csv", ".xlsx", ".parquet"))
    write_csv(df, csv_path)
    write_xlsx(sheets or {base.name: df}, xlsx_path)
    _save(parquet_path, lambda p: df.to_parquet(p, index=False))
    return {p.name: _entry(p, len(df)) for p in (csv_path, xlsx_path, parquet_path)}


def _postal_line(df: pd.DataFrame) -> list[str]:
    """One-line Chinese postal address, largest unit first, without repeating a unit
    (北京市北京市) or one the street address already starts with (建邺区 + 建邺区新华路)."""
    lines = []
    for row in df[["province", "city", "district", "address"]].itertuples(index=False):
        units = [u for u in row[:3] if isinstance(u, str) and u]
        street = row[3] if isinstance(row[3], str) else ""
        for u in units:
            street = street.removeprefix(u)
        lines.append("".join(dict.fromkeys(units)) + street)
    return lines


def _one_contact_column(df: pd.DataFrame, channel: str) -> pd.DataFrame:
    """A channel's rows in the campaign file's columns: its contact fields folded into one value."""
    contact = _postal_line(df) if channel == "mail" else df[CONTACT_FIELD[channel]]
    out = pd.DataFrame({"customer_id": df["customer_id"], "channel": channel,
                        "name": df["name"] if "name" in df else None, "contact": contact})
    rest = [col for col in df.columns if col not in (*CHANNEL_FIELDS[channel], "customer_id")]
    return pd.concat([out, df[rest]], axis=1)


def _sms_text(channel: str) -> str:
    """SMS rows carry the sender signature and the opt-out text the gateway must append
    (通信短信息服务管理规定 Art. 18: name the sender, say how to refuse)."""
    return ", t.sms_signature, t.sms_opt_out_text" if channel == "sms" else ""


def _export_columns(c: Campaign) -> str:
    """SQL for the audience columns the campaign's ``export_columns`` names (alias a: the list contacts), each
    after the offer code; a list column is written as one text (厨具、小家电) so that a CSV cell reads as words.

    Settings read back from JSON are not validated again: a name that is not an exportable audience column
    is refused here rather than put into SQL."""
    parts = []
    for col in c.export_columns:
        if col not in AUDIENCE_COLUMNS or col in NOT_EXPORTABLE:
            raise ExportError(f"campaign '{c.id}': export column '{col}' is not an exportable audience column")
        kind = AUDIENCE_COLUMNS[col]
        parts.append(f", array_to_string(a.{col}, '、') AS {col}" if kind.endswith("[]") else f", a.{col}")
    return "".join(parts)


def _campaign_files(con, run_date: date, out_dir: Path, c: Campaign, contacts: str) -> tuple[dict, int]:
    files: dict = {}
    exported = 0
    channels = [r[0] for r in con.execute(
        "SELECT DISTINCT channel FROM marts.target_lists WHERE run_date = ? AND campaign_id = ? ORDER BY 1",
        [run_date, c.id]).fetchall()]
    whole, by_channel = [], {}
    for ch in channels:
        fields = ", ".join(f"a.{f}" for f in CHANNEL_FIELDS[ch])
        df = con.execute(f"""
            SELECT t.customer_id, {fields}, strftime(t.send_after, '%Y-%m-%d %H:%M') AS send_after,
                   strftime(t.send_before, '%Y-%m-%d %H:%M') AS send_before, t.wave, t.wave_name,
                   ? AS offer_code{_export_columns(c)}, t.reason, t.purpose, t.legal_basis{_sms_text(ch)}
            FROM marts.target_lists t JOIN {contacts} a USING (run_date, campaign_id, customer_id)
            WHERE t.run_date = ? AND t.campaign_id = ? AND t.channel = ? AND NOT t.is_holdout
            ORDER BY t.rank_score DESC NULLS LAST, t.customer_id""", [c.offer_code, run_date, c.id, ch]).df()
        files.update(_write(df, out_dir / f"{c.id}__{ch}", sheets={ch: df}))
        exported += len(df)
        whole.append(_one_contact_column(df, ch))
        by_channel[ch] = df
    if whole:  # the campaign's workbook: one sheet per channel, each with that channel's own fields
        files.update(_write(pd.concat(whole, ignore_index=True), out_dir / c.id, sheets=by_channel))
    changes = con.execute("""
        SELECT customer_id, change, reason, channel, is_holdout, prev_run_date
        FROM marts.target_list_changes WHERE run_date = ? AND campaign_id = ?
        ORDER BY change, reason, customer_id""", [run_date, c.id]).df()
    if len(changes):
        path = out_dir / f"{c.id}__changes.csv"
        write_csv(changes, path)
        write_xlsx({"changes": changes}, path.with_suffix(".xlsx"))
        files.update({p.name: _entry(p, len(changes)) for p in (path, path.with_suffix(".xlsx"))})
    return files, exported


def export_lists(warehouse: Path, run_date: date, out_dir: Path, campaigns: list[Campaign],
                 contacts: str, call_rows: str | None = None) -> dict[str, int]:
    """Write the run date's files and manifest; returns rows exported (holdout excluded) per campaign.

    ``contacts`` is the relation of the night's list rows with their contact fields (the dbt model
    int_activation__list_contacts, found through dbt's manifest by the caller). ``call_rows``, the
    relation of tonight's phone calls with their context (int_activation__call_sheet_rows), adds the
    call sheets per store and salesperson (bullseye.activation.call_sheets), listed in the manifest.

    ``out_dir`` is replaced whole: it holds either the previous export or tonight's complete one.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir)
    work = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    work.mkdir()
    try:
        written, manifest = _write_night(warehouse, run_date, work, campaigns, contacts, call_rows)
        text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
        _save(work / "manifest.json", lambda p: p.write_text(text, encoding="utf-8"))
        _swap_in(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return written


def _leftovers(out_dir: Path, kind: str) -> list[Path]:
    return sorted(out_dir.parent.glob(f".{out_dir.name}.{kind}-*"))


def _recover(out_dir: Path) -> None:
    """Tidy after a run that was killed: put back a folder moved away mid-swap, drop half-written ones."""
    old = _leftovers(out_dir, "old")
    if old and not out_dir.exists():
        old[-1].rename(out_dir)  # killed between the two renames: the previous export is still whole
        old = old[:-1]
    for leftover in [*old, *_leftovers(out_dir, "tmp")]:
        shutil.rmtree(leftover)


def _swap_in(work: Path, out_dir: Path) -> None:
    """Rename the finished folder to ``out_dir``; the folder it replaces is removed only after that."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)
    try:
        work.rename(out_dir)
    except OSError:
        if old.exists():
            old.rename(out_dir)
        raise
    if old.exists():
        shutil.rmtree(old)


def _write_night(warehouse: Path, run_date: date, out_dir: Path, campaigns: list[Campaign], contacts: str,
                 call_rows: str | None = None) -> tuple[dict[str, int], dict]:
    """Every campaign's files into ``out_dir``; returns rows exported per campaign and the manifest."""
    con = connect(warehouse, read_only=True)
    written: dict[str, int] = {}
    manifest: dict = {"run_date": run_date.isoformat(), "phone_formats": PHONE_FORMAT_NOTES, "campaigns": []}
    try:
        for c in campaigns:
            reasons = dict(con.execute("""SELECT reason, count(*) FROM marts.contact_decisions
                WHERE run_date = ? AND campaign_id = ? GROUP BY 1 ORDER BY 1""", [run_date, c.id]).fetchall())
            holdout, included = con.execute("""SELECT count(*) FILTER (WHERE is_holdout), count(*)
                FROM marts.target_lists WHERE run_date = ? AND campaign_id = ?""", [run_date, c.id]).fetchall()[0]
            changes = con.execute("""SELECT change, reason, count(*) FROM marts.target_list_changes
                WHERE run_date = ? AND campaign_id = ? GROUP BY ALL ORDER BY ALL""", [run_date, c.id]).fetchall()
            files, exported = _campaign_files(con, run_date, out_dir, c, contacts)
            manifest["campaigns"].append({
                "campaign_id": c.id, "name": c.name, "objective": c.objective, "priority": c.priority,
                "definition_file": c.source_file, "definition_sha256": c.definition_sha256,
                "offer_code": c.offer_code, "export_columns": list(c.export_columns),
                "candidates": sum(reasons.values()), "included": included,
                "holdout": holdout, "exported": exported, "counts_by_reason": reasons,
                "changes_vs_previous_night": [{"change": a, "reason": r, "count": n} for a, r, n in changes],
                "files": files,
            })
            if included:
                written[c.id] = exported
        if call_rows:
            from bullseye.activation.call_sheets import write_call_sheets  # it writes with this module's writer

            manifest["call_sheets"] = write_call_sheets(con, run_date, out_dir, campaigns, call_rows)
    finally:
        con.close()
    return written, manifest
