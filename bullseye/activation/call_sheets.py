"""Tomorrow's call sheets: one file per salesperson, one per store for its unassigned customers.

Under ``exports/<run_date>/call_sheets/``:

- ``<store>/<salesperson>.csv``: the salesperson's calls (their customers' home store and salesperson,
  int_customer__home_store);
- ``<store>/unassigned.csv``: the store's customers with no salesperson;
- ``no_store.csv``: people with neither a store nor a salesperson (prospects from lists, web leads);
- ``README.md``: what the columns mean and the outcome values a caller may write.

A row is one of tonight's included phone calls (holdout members are never called), built by the dbt model
int_activation__call_sheet_rows, with the campaign's name, wave message and offer from its definition. It
carries what the call needs (name and phone; why: campaign, reason and its detail, trigger, wave and message;
what they bought and when, and for a purchase anniversary or service step the order, its products and date;
tier, grade and stage; the next best category; the last contact reported back and its outcome) and empty
columns to fill in: ``outcome``, ``called_at``, ``order_id``, ``note``.

A filled-in sheet is a ``contacts/`` delivery as it stands: contact_id, campaign_id, channel (phone),
sent_at (the planned call time, so the ledger matches the call to tonight's plan and counts it once),
customer_id and phone lead each row; the loader reads the outcome (bullseye.ingest.call_outcomes). The
sheets are made safe with the exports' Excel rules (UTF-8 with BOM, every field quoted, no formula cell,
domestic phones as 11-digit national numbers).

Beside each CSV sheet an ``.xlsx`` of the same rows (bullseye.activation.exports.write_xlsx): phone and ids as
text, the header frozen, and the ``outcome`` column a dropdown of the outcomes the loader reads
(bullseye.ingest.call_outcomes.OUTCOMES; another value is warned about, not refused, so a Chinese spelling can
still be typed). The loader reads CSV only: a sheet filled in in Excel is saved as "CSV UTF-8" before it goes
back to ``contacts/`` (the README says so).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from bullseye.activation.campaigns import Campaign
from bullseye.activation.exports import (
    _sha256,
    excel_safe,
    national_phones,
    write_csv_cells,
    write_xlsx_cells,
)
from bullseye.ingest.call_outcomes import FILL_IN_COLUMNS, OUTCOMES

# The dbt model of tonight's call rows with their context (its relation comes from dbt's manifest).
CALL_SHEET_ROWS = "int_activation__call_sheet_rows"
FOLDER = "call_sheets"
UNASSIGNED = "unassigned"  # <store>/unassigned.csv: the store's customers without a salesperson
NO_STORE = "no_store"  # no_store.csv: people with neither store nor salesperson

# What the contacts/ reader needs, first; then the call's context; then what the caller fills in.
CONTACT_COLUMNS = ("contact_id", "campaign_id", "channel", "sent_at", "customer_id", "name", "phone")
CONTEXT_COLUMNS = (
    "campaign_name", "reason", "detail", "trigger_type", "trigger_date", "wave", "wave_name", "message",
    "offer_code", "offer", "trigger_category", "trigger_products", "trigger_purchase_date", "trigger_order_id",
    "trigger_years", "trigger_step", "trigger_action", "last_purchase_date", "last_purchase_amount",
    "last_purchase_categories", "last_purchase_products", "value_tier", "mvc_subtype", "grade", "lifecycle_stage",
    "next_best_category", "last_contact_at", "last_contact_campaign", "last_contact_channel",
    "last_contact_outcome", "send_before", "store_id", "salesperson_id",
)
SHEET_COLUMNS = (*CONTACT_COLUMNS, *CONTEXT_COLUMNS, *FILL_IN_COLUMNS)
# Context every row must have (a call cannot be made or explained without it); the run summary says when not
# (missing_context_note, added by bullseye.pipeline.step_export).
REQUIRED_CONTEXT = ("name", "phone", "campaign_name", "reason", "wave_name", "lifecycle_stage")

# One line per sheet column for the sheets' README (tests check every column has one).
COLUMN_MEANINGS = {
    "contact_id": "this call's id (call:<date>:<campaign>:<customer>:<wave>): it ties the returned row to "
                  "tonight's plan",
    "campaign_id": "the campaign the call is for (its id)",
    "channel": "always phone",
    "sent_at": "from when to call (the planned call time)",
    "customer_id": "the person's id in bullseye",
    "name": "who to call",
    "phone": "the number to dial (domestic numbers as 11 digits)",
    "campaign_name": "the campaign's name",
    "reason": "why the person is on the list (included:<campaign>)",
    "detail": "more on the decision, e.g. the channels ruled out and why",
    "trigger_type": "the occasion the call is about (birthday, purchase_anniversary, service step ...), empty for "
                    "a campaign without one",
    "trigger_date": "the occasion's date",
    "wave": "which call of the campaign this is for the person (1 = the first)",
    "wave_name": "that wave's name in the campaign",
    "message": "what to say: the wave's message",
    "offer_code": "the offer's code to give, if any",
    "offer": "the offer, in words",
    "trigger_category": "the product category the occasion is about (e.g. the oven of a purchase anniversary)",
    "trigger_products": "the products (SKUs) of that category in the order the occasion is about",
    "trigger_purchase_date": "when that order was bought",
    "trigger_order_id": "that order's id",
    "trigger_years": "for a purchase anniversary: how many years ago it was bought",
    "trigger_step": "for a service step: which step (e.g. the one-month follow-up)",
    "trigger_action": "for a service step: what to do on the call",
    "last_purchase_date": "the person's last purchase: its date",
    "last_purchase_amount": "its amount (CNY)",
    "last_purchase_categories": "its product categories",
    "last_purchase_products": "its products (SKUs)",
    "value_tier": "value tier: MVC (most valuable), MGC (most growable), BZ (below zero), standard; empty for "
                  "someone who never bought",
    "mvc_subtype": "for an MVC: big_account, steady, seasonal or other",
    "grade": "grade A-D among the buyers of the last value window; empty without a purchase in it",
    "lifecycle_stage": "where the person stands: new, active, dormant, lost, won_back",
    "next_best_category": "the category to suggest next",
    "last_contact_at": "the last contact reported back before tonight: when",
    "last_contact_campaign": "its campaign",
    "last_contact_channel": "its channel",
    "last_contact_outcome": "what came of it: purchased, responded, reached, not_reached, opt_out, complaint",
    "send_before": "call before this time",
    "store_id": "the person's home store (the sheet's folder)",
    "salesperson_id": "the person's salesperson (the sheet's file), empty on an unassigned or no-store sheet",
    "outcome": "fill in: what came of the call (values below); empty = not called",
    "called_at": "fill in: when the call was made",
    "order_id": "fill in: the order the call brought, for purchased",
    "note": "fill in: anything else",
}

_SAFE = re.compile(r"[^\w.-]+")


def safe_name(value: str) -> str:
    """A store or salesperson id as a file name: letters, digits, ``_.-`` kept (Chinese too); anything
    else, or a name taken by the sheets' own files, gets a short hash so two ids never share a file."""
    name = _SAFE.sub("_", value).strip("._") or "_"
    if name != value or name.lower() in (UNASSIGNED, NO_STORE, "readme"):
        name += "-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    return name


def contact_id(run_date: str, campaign_id: str, customer_id: str, wave: object) -> str:
    """The returned call's contact_id: one per person, campaign and wave of the night (stable on a re-run).

    The contact ledger rebuilds it from a plan (:func:`contact_id_sql`) to free the plan a returned
    sheet says was not made, so both spell the wave as a whole number."""
    return f"call:{run_date}:{campaign_id}:{customer_id}:{'' if pd.isna(wave) else int(wave)}"


def contact_id_sql(run_date: str, campaign_id: str, customer_id: str, wave: str) -> str:
    """SQL: :func:`contact_id` of a plan, from its columns (a DATE, two texts and an integer wave)."""
    return (f"'call:' || strftime(CAST({run_date} AS DATE), '%Y-%m-%d') || ':' || {campaign_id} || ':' || "
            f"{customer_id} || ':' || coalesce(CAST(CAST({wave} AS BIGINT) AS VARCHAR), '')")


def _wave_message(c: Campaign | None, wave: object) -> str | None:
    if c is None or pd.isna(wave):
        return None
    return c.waves[min(max(int(wave) - 1, 0), len(c.waves) - 1)].message or None


def sheet_rows(con, run_date, campaigns: list[Campaign], relation: str) -> pd.DataFrame:
    """Tonight's call rows in sheet columns, in the order to call: campaign priority, then rank."""
    df = con.execute(f"SELECT * FROM {relation} WHERE run_date = ?", [run_date]).df()
    by_id = {c.id: c for c in campaigns}
    day = pd.Timestamp(run_date).date().isoformat()
    df["contact_id"] = [contact_id(day, c, p, w)
                        for c, p, w in zip(df.campaign_id, df.customer_id, df.wave, strict=True)]
    df["channel"] = "phone"
    df["sent_at"] = pd.to_datetime(df.send_after).dt.strftime("%Y-%m-%d %H:%M")
    df["send_before"] = pd.to_datetime(df.send_before).dt.strftime("%Y-%m-%d %H:%M")
    df["campaign_name"] = df.campaign_id.map(lambda c: by_id[c].name if c in by_id else None)
    df["message"] = [_wave_message(by_id.get(c), w) for c, w in zip(df.campaign_id, df.wave, strict=True)]
    df["offer_code"] = df.campaign_id.map(lambda c: by_id[c].offer_code if c in by_id else None)
    df["offer"] = df.campaign_id.map(lambda c: (by_id[c].offer or {}).get("description") if c in by_id else None)
    df["priority"] = df.campaign_id.map(lambda c: by_id[c].priority if c in by_id else 0)
    for col in ("trigger_date", "trigger_purchase_date", "last_purchase_date"):
        df[col] = pd.to_datetime(df[col]).dt.strftime("%Y-%m-%d")
    df["last_contact_at"] = pd.to_datetime(df.last_contact_at).dt.strftime("%Y-%m-%d %H:%M")
    for col in FILL_IN_COLUMNS:
        df[col] = None
    df = df.sort_values(["priority", "rank_score", "customer_id"], ascending=[False, False, True],
                        na_position="last")
    return df[list(SHEET_COLUMNS)].reset_index(drop=True)


def sheet_path(store_id: object, salesperson_id: object) -> str:
    """The sheet a row goes to, relative to the call_sheets folder."""
    if pd.isna(store_id):
        return f"{NO_STORE}.csv"
    person = UNASSIGNED if pd.isna(salesperson_id) else safe_name(str(salesperson_id))
    return f"{safe_name(str(store_id))}/{person}.csv"


def readme() -> str:
    """The sheets' README: the layout, what each column means, the columns to fill in and the outcome
    values they accept."""
    outcomes = "\n".join(f"- `{k}`: also {', '.join(v[1:])}" for k, v in OUTCOMES.items())
    columns = "\n".join(f"- `{c}`: {COLUMN_MEANINGS[c]}" for c in SHEET_COLUMNS)
    return f"""# Call sheets

One file per salesperson (`<store>/<salesperson>.csv`), one per store for its customers without a
salesperson (`<store>/unassigned.csv`), and `{NO_STORE}.csv` for people with neither. Each row is one call
planned for the day (sent_at is from when, send_before until when), in the order to call.

Columns:
{columns}

Fill in, per row:
- `outcome`: one of the values below (English or Chinese). Leave it empty for a call not made: the row is then
  not counted as a contact, the planned call is freed and the person may be on a sheet again from the next
  night (the night's summary says "not called"). A sheet that is never returned counts as called: every
  planned call on it counts as made, so return every sheet, even with calls not made.
- `called_at`: when the call was made (e.g. 2026-06-02 14:05); a response is dated by it.
- `order_id`: the order the call brought, for `purchased`.
- `note`: anything else.

Each sheet also comes as `.xlsx` (same rows; phone and ids as text; `outcome` a dropdown of the values below).
Fill in either; an `.xlsx` is saved as "CSV UTF-8 (comma delimited)" under the sheet's `.csv` name before it goes
back, since the loader reads CSV.

Then drop the file, as it is, into the landing zone's `contacts/` folder. Do not change contact_id,
campaign_id, channel, sent_at or customer_id. A value not in the list is held in the quarantine with its row.

Outcome values:
{outcomes}

`opt_out` and `complaint` stop every contact with the person and the number; `no_answer` and `wrong_number`
count as a call that did not reach them.
"""


def write_call_sheets(con, run_date, out_dir: Path, campaigns: list[Campaign], relation: str) -> dict:
    """Write tonight's sheets under ``out_dir/call_sheets``; returns their manifest entry.

    The rows are made safe for Excel once (bullseye.activation.exports.for_excel, as every export: phones
    national, then no formula cell) and each sheet written with the exports' CSV and xlsx writers from those rows:
    thousands of one-row files, so no per-file DataFrame work."""
    rows = sheet_rows(con, run_date, campaigns, relation)
    folder = Path(out_dir) / FOLDER
    folder.mkdir()
    (folder / "README.md").write_text(readme(), encoding="utf-8")
    national = national_phones(rows)  # the xlsx cells (xlsx_sheets); the CSV's are also made formula-safe
    safe = excel_safe(national)
    cells = safe.astype(object).where(safe.notna(), "").to_numpy().tolist()
    xlsx_cells = national.astype(object).to_numpy().tolist()
    header = list(safe.columns)
    where = [sheet_path(s, p) for s, p in zip(rows.store_id, rows.salesperson_id, strict=True)]
    stores, people = rows.store_id.tolist(), rows.salesperson_id.tolist()
    sheets = []
    for rel, idx in sorted(pd.Series(range(len(rows))).groupby(where).groups.items()):
        path = folder / rel
        path.parent.mkdir(exist_ok=True)
        write_csv_cells(path, header, [cells[i] for i in idx])
        xlsx = path.with_suffix(".xlsx")
        write_xlsx_cells(xlsx, {"calls": (header, [xlsx_cells[i] for i in idx])})
        store, person = stores[idx[0]], people[idx[0]]
        sheets.append({"file": f"{FOLDER}/{rel}", "store_id": None if pd.isna(store) else store,
                       "salesperson_id": None if pd.isna(person) else person,
                       "rows": len(idx), "sha256": _sha256(path),
                       "xlsx_file": f"{FOLDER}/{xlsx.relative_to(folder).as_posix()}", "xlsx_sha256": _sha256(xlsx)})
    missing = {col: int(rows[col].isna().sum()) for col in REQUIRED_CONTEXT if rows[col].isna().any()}
    lacking = rows[list(REQUIRED_CONTEXT)].isna().any(axis=1)
    by_sheet = pd.Series(where)[lacking.to_numpy()].value_counts()
    return {"folder": FOLDER, "calls": len(rows), "sheets": sheets, "rows_missing_context": missing,
            "calls_missing_context": int(lacking.sum()),
            "sheets_missing_context": {f"{FOLDER}/{k}": int(v) for k, v in sorted(by_sheet.items())},
            "outcome_values": list(OUTCOMES)}


def missing_context_note(entry: dict, shown: int = 5) -> str:
    """The run summary's line when calls lack context a call needs (REQUIRED_CONTEXT), else "".

    The sheets are written all the same (a call without a stage can still be made), so the marketer
    is told how many calls, which columns and on which sheets, to fix the source before they are made."""
    calls = entry.get("calls_missing_context") or 0
    if not calls:
        return ""
    sheets = entry.get("sheets_missing_context") or {}
    cols = ", ".join(f"{c} {n:,}" for c, n in entry.get("rows_missing_context", {}).items())
    where = ", ".join(f"{f} ({n:,})" for f, n in list(sheets.items())[:shown])
    more = f" and {len(sheets) - shown:,} more" if len(sheets) > shown else ""
    return (f"call sheets: {calls:,} of {entry.get('calls', 0):,} calls lack context a call needs (empty: {cols}), "
            f"on {len(sheets):,} of {len(entry.get('sheets', [])):,} sheets: {where}{more} "
            "(manifest call_sheets.sheets_missing_context)")
