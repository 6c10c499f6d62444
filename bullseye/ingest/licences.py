"""Purchased and exchanged lists: the licence each manifest grants, and what happens when it ends.

A list's id is its folder (``lists/<list_id>/``). Its ``manifest.json`` is a delivery of
its own (ledger source ``list_manifests``), judged before the list's record files:

- a manifest naming another ``list_id`` than its folder is rejected, and the folder's new
  record files are held in the quarantine with that reason (no folder can claim, or
  widen, another list's licence);
- unreadable ``acquired_at`` or ``expires_at`` (or an expiry before the acquisition), a
  channel we do not know, missing required fields or broken JSON reject it the same way;
- a redelivered manifest replaces the terms in force only if it narrows them: an earlier
  or equal ``expires_at``, no channel added, the same legal basis or ``revoked``. A
  redelivery that widens is rejected with the reason and the earlier terms stay in force
  (the folder's records still load under them). Wider terms need a new list, its own
  folder and manifest, with its own consent evidence: consent given for one licence does
  not stretch to a longer or broader one, and a vendor's later word is no evidence;
- ``legal_basis`` is one of :data:`LEGAL_BASES` (spellings in :data:`BASIS_ALIASES`). A
  list whose basis is not one of them is loaded (its scorecard still counts) but never
  contacted: ``int_contact__list_terms`` gives it no permitted channel, and the run says so.

When a list's licence has expired (``expires_at`` before the run date), its records that
matched no customer are deleted from ``raw.lists`` and their copies in the quarantine are
redacted; each purge is one row of ``meta.list_purges``. "Matched a customer" is read from
the last committed identity map (``marts.customer_identity_map``): the record's person has
a CRM record. Without a map (no night has resolved identities yet) the purge waits a
night rather than guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

# The PIPL (个人信息保护法) bases that can make a bought or exchanged list usable for contact.
LEGAL_BASES: dict[str, str] = {
    "consent_with_transfer": "Art. 13(1) consent of the person to be contacted by the buyer, plus the separate "
                             "consent to the transfer of their data to us that Art. 23 requires",
    "contract": "Art. 13(2): necessary to conclude or perform a contract to which the person is a party",
    "public": "Art. 13(6) and Art. 27: information the person made public themselves, or that was lawfully "
              "disclosed, used within a reasonable scope",
    "legal_duty": "Art. 13(3): necessary to fulfil a statutory duty or obligation",
    "revoked": "the basis was withdrawn: the list is kept for the record and never contacted",
}
# Bases under which a list may be contacted at all (the contact policy still decides per channel).
CONTACTABLE_BASES = ("consent_with_transfer", "contract", "public", "legal_duty")
BASIS_ALIASES: dict[str, str] = {
    "consent_with_transfer": "consent_with_transfer", "consent": "consent_with_transfer",
    "separate_consent": "consent_with_transfer", "同意": "consent_with_transfer",
    "单独同意": "consent_with_transfer",
    "contract": "contract", "合同": "contract",
    "public": "public", "made_public": "public", "publicly_disclosed": "public", "公开": "public",
    "已公开": "public", "已公开信息": "public",
    "legal_duty": "legal_duty", "legal_obligation": "legal_duty", "法定义务": "legal_duty",
    "法定职责": "legal_duty",
    "revoked": "revoked", "withdrawn": "revoked", "撤回": "revoked", "已撤回": "revoked",
}
LIST_CHANNELS = ("sms", "phone", "email", "wechat", "mail", "app_push")


def basis_key(text: str) -> str:
    """How a delivered basis is compared: trimmed, lower-case, spaces and dashes as underscores."""
    return "_".join(text.strip().lower().replace("-", " ").split())


def normalize_basis(text: object) -> str | None:
    """The documented basis a manifest's ``legal_basis`` names, or None when it names none."""
    return BASIS_ALIASES.get(basis_key(str(text))) if text is not None else None


def basis_macro_sql() -> str:
    """``bz_legal_basis(text)``: the same reading in SQL, for stg_lists__manifests (old rows too)."""
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in BASIS_ALIASES.items())
    return ("CREATE OR REPLACE MACRO bz_legal_basis(s) AS CASE array_to_string(string_split_regex("
            "lower(trim(replace(s, '-', ' '))), '\\s+'), '_') " + whens + " END;")


@dataclass
class Terms:
    list_id: str
    vendor: str
    acquired_at: date
    expires_at: date | None
    channels: list[str]
    basis_text: str
    basis: str | None
    cost: Decimal | None
    manifest: str


@dataclass
class Verdict:
    """What a list folder's manifest means tonight."""

    folder: str
    rel: str
    exists: bool = True
    refused: bool = False  # a symlink out of the landing zone: never read
    terms: Terms | None = None
    accepted: bool = False  # these terms go in force (inserted into raw.list_manifests)
    hold: str | None = None  # reason that holds the folder's record files; None: they load
    message: str = ""
    issues: list[str] = field(default_factory=list)
    encoding: str | None = None


class _Reject(Exception):
    pass


def judge_manifest(con: duckdb.DuckDBPyConnection, path: Path, folder: str, rel: str,
                   refused: str | None = None) -> Verdict:
    """Read and judge one list's manifest against the terms in force. Writes nothing."""
    v = Verdict(folder=folder, rel=rel)
    if refused:
        v.refused, v.hold = True, f"{rel} {refused}: no legal basis on record"
        v.message = v.hold
        return v
    if not path.exists():
        v.exists = False
        v.hold = f"lists/{folder}/manifest.json is missing: no legal basis on record"
        return v
    try:
        meta = _read(path)
        v.encoding = meta.get("encoding") if isinstance(meta.get("encoding"), str) else None
        v.terms = _terms(con, meta, folder)
    except _Reject as exc:
        v.hold = v.message = f"{rel} rejected: {exc}"
        return v
    if v.terms.basis is None:
        v.issues.append(f"legal_basis {v.terms.basis_text!r} is not one of {', '.join(LEGAL_BASES)}: the list "
                        "is loaded (kept for its scorecard) but never contacted")
    elif v.terms.basis == "revoked":
        v.issues.append("legal_basis is revoked: the list is kept for the record and never contacted")
    wider = _widening(con, v.terms)
    if wider:
        v.message = (f"{rel} rejected: the redelivered manifest widens the licence ({'; '.join(wider)}); a licence "
                     "can only be narrowed by redelivery, so the earlier terms stay in force. Wider terms need a "
                     "new list (its own folder and manifest) with its own consent evidence")
        return v  # records still load, under the earlier terms
    v.accepted = True
    v.message = "; ".join(v.issues)
    return v


def _read(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Reject(f"manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise _Reject("manifest.json is not a JSON object")
    return meta


def _terms(con: duckdb.DuckDBPyConnection, meta: dict, folder: str) -> Terms:
    from bullseye.ingest.sources import LIST_MANIFEST_REQUIRED

    missing = [k for k in LIST_MANIFEST_REQUIRED if meta.get(k) in (None, "", [])]
    if missing:
        raise _Reject(f"manifest.json lacks required field(s): {', '.join(missing)}")
    if str(meta["list_id"]).strip() != folder:
        raise _Reject(f"manifest names list_id {str(meta['list_id'])!r} but sits in folder lists/{folder}/: a "
                      "list's id is its folder, and no manifest may claim another list's licence")
    acquired = _date(con, meta["acquired_at"])
    if acquired is None:
        raise _Reject(f"acquired_at {meta['acquired_at']!r} is not a readable date")
    expires = None
    if meta.get("expires_at") not in (None, ""):
        expires = _date(con, meta["expires_at"])
        if expires is None:
            raise _Reject(f"expires_at {meta['expires_at']!r} is not a readable date (an unreadable expiry is "
                          "not 'never expires')")
        if expires < acquired:
            raise _Reject(f"expires_at {expires} is before acquired_at {acquired}")
    channels = _channels(meta.get("permitted_channels"))
    cost = None
    if meta.get("cost") not in (None, ""):
        cost = con.execute("SELECT bz_parse_decimal(?)", [str(meta["cost"])]).fetchall()[0][0]
        if cost is None:
            raise _Reject(f"cost {meta['cost']!r} is not a readable amount")
    return Terms(list_id=folder, vendor=str(meta["vendor"]), acquired_at=acquired, expires_at=expires,
                 channels=channels, basis_text=str(meta["legal_basis"]), basis=normalize_basis(meta["legal_basis"]),
                 cost=cost, manifest=json.dumps(meta, ensure_ascii=False, sort_keys=True))


def _date(con: duckdb.DuckDBPyConnection, value: object) -> date | None:
    return con.execute("SELECT bz_parse_date(?)", [str(value)]).fetchall()[0][0]


def _channels(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise _Reject(f"permitted_channels {value!r} is neither a list nor a comma-separated text")
    chans = sorted({str(c).strip().lower() for c in value if str(c).strip()})
    unknown = [c for c in chans if c not in LIST_CHANNELS]
    if unknown:
        raise _Reject(f"unknown channel(s) in permitted_channels: {', '.join(unknown)} "
                      f"(expected {', '.join(LIST_CHANNELS)})")
    return chans


def terms_in_force(con: duckdb.DuckDBPyConnection, list_id: str) -> tuple | None:
    """The latest accepted terms of a list: (acquired_at, expires_at, channels, basis code)."""
    rows = con.execute("""SELECT acquired_at, expires_at, permitted_channels, bz_legal_basis(legal_basis)
        FROM raw.list_manifests WHERE list_id = ? ORDER BY _delivery_id DESC LIMIT 1""", [list_id]).fetchall()
    return rows[0] if rows else None


def _widening(con: duckdb.DuckDBPyConnection, new: Terms) -> list[str]:
    """How the new terms go beyond the terms in force (empty: they narrow or repeat them)."""
    old = terms_in_force(con, new.list_id)
    if old is None:
        return []
    acquired, expires, channels, basis = old
    out = []
    if expires is not None and (new.expires_at is None or new.expires_at > expires):
        out.append(f"expires_at {new.expires_at or 'none (never)'} is later than {expires}")
    added = sorted(set(new.channels) - set(channels or []))
    if added:
        out.append(f"adds channel(s) {', '.join(added)}")
    if new.basis not in (basis, None, "revoked"):
        out.append(f"changes the legal basis from {basis or 'an invalid one'} to {new.basis}")
    if new.acquired_at < acquired:
        out.append(f"acquired_at {new.acquired_at} is earlier than {acquired}")
    return out


def store_terms(con: duckdb.DuckDBPyConnection, t: Terms, delivery_id: int) -> None:
    con.execute("INSERT INTO raw.list_manifests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [t.list_id, t.vendor, t.acquired_at, t.basis_text, t.channels, t.expires_at, t.cost, t.manifest,
                 delivery_id])


PURGE_DDL = """CREATE TABLE IF NOT EXISTS meta.list_purges (
    list_id VARCHAR, as_of DATE, expires_at DATE, rows_purged BIGINT, quarantine_redacted BIGINT,
    rows_kept_matched BIGINT, run_id VARCHAR, purged_at TIMESTAMP)"""


def purge_expired_lists(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str) -> tuple[list[str], list[str]]:
    """Delete the unmatched records of every list whose licence expired before ``as_of``.

    Runs inside the night, on its working copy (the loader calls it after loading), in one
    transaction. Returns (what was purged, notes), one line per list, for the run summary.
    """
    con.execute(PURGE_DDL)
    has_map = con.execute("""SELECT count(*) FROM information_schema.tables
        WHERE table_schema = 'marts' AND table_name = 'customer_identity_map'""").fetchall()[0][0]
    expired = con.execute("""SELECT list_id, expires_at FROM (
            SELECT list_id, expires_at, row_number() OVER (PARTITION BY list_id ORDER BY _delivery_id DESC) AS k
            FROM raw.list_manifests WHERE acquired_at <= ?) WHERE k = 1 AND expires_at < ?
        ORDER BY list_id""", [as_of, as_of]).fetchall()
    if not expired:
        return [], []
    if not has_map:
        return [], [f"{len(expired)} expired list(s) not purged yet: no identity map to tell which records "
                    "matched a customer (the first night that resolves identities makes one)"]
    done: list[str] = []
    con.begin()
    try:
        for list_id, expires in expired:
            matched = """SELECT m.source_record_id FROM marts.customer_identity_map m
                WHERE m.source = 'lists' AND m.customer_id IN (
                    SELECT customer_id FROM marts.customer_identity_map WHERE source = 'crm_customers')"""
            n = con.execute(f"""DELETE FROM raw.lists WHERE list_id = ?
                AND list_id || ':' || list_record_id NOT IN ({matched})""", [list_id]).fetchall()[0][0]
            kept = con.execute("SELECT count(*) FROM raw.lists WHERE list_id = ?", [list_id]).fetchall()[0][0]
            red = con.execute("""UPDATE meta.quarantine SET record = '[purged: list licence expired]', value = NULL
                WHERE source = 'lists' AND starts_with(path, ?)
                  AND (value IS NOT NULL OR record <> '[purged: list licence expired]')""",
                              [f"lists/{list_id}/"]).fetchall()[0][0]
            if n or red:
                con.execute("INSERT INTO meta.list_purges VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                            [list_id, as_of, expires, n, red, kept, run_id])
                done.append(f"list {list_id} expired on {expires}: {n:,} records that matched no customer purged "
                            f"({kept:,} kept, matched to customers; {red:,} quarantined copies redacted)")
        con.commit()
    except Exception:
        con.rollback()
        raise
    return done, []
