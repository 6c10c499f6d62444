"""``bullseye subject-access``: everything stored about one person, as one JSON file (PIPL Art. 45).

The rows are found by the same rules ``bullseye forget`` erases by
(:func:`bullseye.privacy.person.row_condition`), in every table of the committed warehouse, so
the answer is complete by construction: what forget would erase is what access shows. The file
groups them as a person reads them:

- ``identity_records``: each source record and the person it was resolved to, with the
  values as delivered (raw) and as normalized;
- ``golden_record``: ``marts.dim_customer``;
- ``orders``; ``segments`` (RFM, CLV, value tier, lifecycle, interests and their history);
- ``consents`` and ``contacts`` (campaign contacts, responses, the contact ledger);
- ``list_memberships``: the purchased lists they came from, with each list's vendor, legal
  basis and licence (from its manifest);
- ``lists_they_were_on``: target lists, contact decisions and list changes by night, and the
  export files on disk that name them (CSV and xlsx, with the workbook's sheets);
- ``other_stored_rows``: every other table that holds one of their values.

ID-card numbers are shown only as their salted hash: that is all the warehouse keeps.
The file itself is personal data: hand it over and delete it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb

from bullseye.config import RunConfig
from bullseye.privacy.person import Person, locate, row_condition, table_columns, text_matcher
from bullseye.publish import sql_identifier
from bullseye.warehouse import connect

SECTIONS = {
    "identity_records": ["marts.customer_identity_map", "intermediate.int_identity__records", "raw.crm_customers",
                         "raw.lists", "identity.registry", "identity.journal"],
    "golden_record": ["marts.dim_customer", "intermediate.int_customer__golden_fields"],
    "orders": ["marts.fct_orders", "raw.orders", "raw.order_lines"],
    "segments": ["marts.customer_segments", "marts.customer_rfm", "marts.customer_clv", "marts.customer_interests",
                 "marts.customer_next_best_category", "marts.customer_response_propensity",
                 "marts.prospect_lookalike", "marts.customer_segments_history", "intermediate.int_customer__lifecycle"],
    "consents": ["raw.consents", "intermediate.int_contact__consent_events", "marts.customer_contact_policy"],
    "contacts": ["raw.contacts", "intermediate.int_campaign__contacts", "marts.contact_ledger",
                 "marts.fct_campaign_attribution", "raw.service", "raw.events"],
    "list_memberships": ["intermediate.int_contact__list_terms"],
    "lists_they_were_on": ["marts.target_lists", "marts.contact_decisions", "marts.target_list_changes"],
}


def subject_access(cfg: RunConfig, kind: str, value: str, out: Path) -> dict[str, int]:
    """Write the person's file to ``out``; returns the number of rows per section."""
    con = connect(cfg.warehouse, read_only=True)
    try:
        person = locate(con, kind, value)
        found = person_rows(con, person)
        manifests = _list_manifests(con, found.get("raw.lists", []))
    finally:
        con.close()
    doc = build_document(person, found, manifests, _export_files(cfg, person))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return {name: sum(len(rows) for rows in tables.values()) if isinstance(tables, dict) else len(tables)
            for name, tables in doc["sections"].items()}


def person_rows(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, list[dict]]:
    """"schema.table" -> the person's rows, for every table that holds any."""
    found: dict[str, list[dict]] = {}
    if person.is_empty():
        return found
    for (schema, table), columns in table_columns(con).items():
        if schema == "main" and table.startswith("__splink"):
            continue  # the matcher's scratch tables: the same pairs as identity.match_edges
        cond = row_condition(person, columns)
        if cond is None:
            continue
        df = con.execute(f"SELECT * FROM {sql_identifier(schema)}.{sql_identifier(table)} WHERE {cond}").df()
        if len(df):
            found[f"{schema}.{table}"] = json.loads(df.to_json(orient="records", date_format="iso",
                                                               force_ascii=False))
    return found


def _list_manifests(con: duckdb.DuckDBPyConnection, list_rows: list[dict]) -> list[dict]:
    """The licence of each purchased list the person came from: vendor, legal basis, channels, dates, cost."""
    ids = sorted({r["list_id"] for r in list_rows if r.get("list_id")})
    if not ids:
        return []
    df = con.execute(f"""SELECT list_id, vendor, acquired_at, legal_basis, permitted_channels, expires_at
        FROM raw.list_manifests WHERE list_id IN ({', '.join('?' * len(ids))})
        QUALIFY row_number() OVER (PARTITION BY list_id ORDER BY _delivery_id DESC) = 1 ORDER BY list_id""",
                     ids).df()
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


def _export_files(cfg: RunConfig, person: Person) -> list[dict]:
    """Export files on disk with rows about the person (which night, which file, how many rows)."""
    from bullseye.privacy.forget import export_files, export_folders, rows_to_drop

    matches = text_matcher(person)
    if matches is None:
        return []
    out = []
    for folder in export_folders(cfg):
        for f in export_files(folder):
            if f.suffix not in (".csv", ".xlsx"):  # Parquet holds the CSV's rows
                continue
            masks = rows_to_drop(f, matches)
            n = sum(int(m.sum()) for m in masks.values())
            if n:
                entry = {"night": folder.name, "file": f.relative_to(folder).as_posix(), "rows": n}
                if f.suffix == ".xlsx":
                    entry["sheets"] = {name: int(m.sum()) for name, m in masks.items() if m.any()}
                out.append(entry)
    return out


def build_document(person: Person, found: dict[str, list[dict]], manifests: list[dict],
                   exports: list[dict]) -> dict:
    """The file's content: the request, the person's ids, and the rows by section."""
    sections: dict = {}
    used: set[str] = set()
    for name, tables in SECTIONS.items():
        sections[name] = {t: found[t] for t in tables if t in found}
        used |= set(tables)
    sections["list_memberships"]["list_licences"] = manifests
    sections["list_memberships"]["raw.lists"] = found.get("raw.lists", [])
    sections["lists_they_were_on"]["export_files"] = exports
    sections["other_stored_rows"] = {t: rows for t, rows in sorted(found.items()) if t not in used}
    return {
        "request": {"looked_up_by": person.lookup[0], "generated_at": datetime.now().isoformat(timespec="seconds"),
                    "law": "PIPL Art. 45 (right of access)",
                    "note": "ID-card numbers are stored only as a salted hash; this file is personal data"},
        "person": {"customer_ids": sorted(person.customer_ids),
                   "source_records": sorted(f"{s}|{r}" for s, r in person.records),
                   "identifiers_shared_with_others": person.shared},
        "sections": sections,
    }
