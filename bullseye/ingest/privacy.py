"""ID-card numbers are hashed as a delivery is staged, before anything is stored.

Only ``id_card_hash`` (SHA-256 of salt + normalized number, lower-case hex) reaches
``raw.crm_customers``; the quarantine keeps the hash in place of the number. The salt
comes from ``BULLSEYE_ID_SALT`` and is only ever a bound query parameter or a Python
value: it is never written into SQL text, so it cannot reach dbt's compiled SQL,
``manifest.json``, ``run_results.json`` or the logs (dbt never sees it at all).

Without ``BULLSEYE_ID_SALT`` a public default is used and every night says so in its
summary: anyone with a list of ID numbers can recompute hashes made with it. Set the salt
before the first real load; a later change gives every number a new hash, so the
warehouse would have to be reloaded for old and new deliveries to match.
"""

from __future__ import annotations

import hashlib
import json
import re

import duckdb

from bullseye.config import ID_SALT_ENV, PUBLIC_ID_SALT, id_salt  # noqa: F401 - id_salt is used by importers

SALT_ENV, DEFAULT_ID_SALT = ID_SALT_ENV, PUBLIC_ID_SALT
DEFAULT_SALT_NOTE = (f"{SALT_ENV} is not set: ID-card numbers are hashed with the public default salt, so "
                     "anyone with a list of numbers can recompute the hashes; set a secret salt before loading "
                     "real data")

_FULLWIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")
_DROP = re.compile(r"[ \t\r\n\u3000-]")
# SQL twin of normalize_id_card (RE2 has the same character class); a test keeps them equal.
NORMALIZE_SQL = ("nullif(upper(regexp_replace(translate({x}, '０１２３４５６７８９ｘＸ', '0123456789XX'), "
                 "'[ \\t\\r\\n\u3000-]', '', 'g')), '')")
# An ID number inside free text (a record the CSV reader could not split): the 18-character
# number (6-digit area, birth date, 3 digits, check digit) and the old 15-digit one.
_ID_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
    r"|[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![0-9A-Za-z])")


def normalize_id_card(number: str | None) -> str | None:
    """The form that is hashed: no spaces or dashes, full-width digits folded, check letter upper-case."""
    if number is None:
        return None
    out = _DROP.sub("", number.translate(_FULLWIDTH)).upper()
    return out or None


def hash_id_card(number: str | None, salt: str | None = None) -> str | None:
    """Salted SHA-256 (hex) of the normalized number, as stored in ``id_card_hash``; ``forget`` uses it too."""
    norm = normalize_id_card(number)
    if norm is None:
        return None
    return hashlib.sha256(((salt if salt is not None else id_salt()[0]) + norm).encode("utf-8")).hexdigest()


def redact_text(text: str | None, salt: str | None = None) -> str | None:
    """Free text as kept in the quarantine: every ID-card number in it replaced by its hash."""
    if not text:
        return text
    salt = salt if salt is not None else id_salt()[0]
    return _ID_IN_TEXT.sub(lambda m: f"[id_card_hash:{hash_id_card(m.group(0), salt)}]", text)


def hash_staged_ids(con: duckdb.DuckDBPyConnection, columns: list[str], id_columns: tuple[str, ...]) -> list[str]:
    """Hash the ID-number columns of temp table ``_stage`` in place and name the result ``id_card_hash``.

    Runs before typing, checks and inserts, so neither ``raw`` nor the quarantine ever sees
    the clear number. Returns the staged column list as it now is.
    """
    present = [c for c in columns if c in id_columns]
    if not present:
        return columns
    salt = id_salt()[0]
    norm = NORMALIZE_SQL.format(x='"{c}"')
    cols = list(columns)
    for c in present:
        con.execute(f'UPDATE _stage SET "{c}" = sha256(? || {norm.format(c=c)}) WHERE {norm.format(c=c)} IS NOT NULL',
                    [salt])
        con.execute(f'UPDATE _stage SET "{c}" = NULL WHERE {norm.format(c=c)} IS NULL')
        if "id_card_hash" in cols:
            con.execute(f'UPDATE _stage SET id_card_hash = coalesce(id_card_hash, "{c}")')
            con.execute(f'ALTER TABLE _stage DROP COLUMN "{c}"')
            cols.remove(c)
        else:
            con.execute(f'ALTER TABLE _stage RENAME COLUMN "{c}" TO id_card_hash')
            cols[cols.index(c)] = "id_card_hash"
    return cols


def migrate_clear_ids(con: duckdb.DuckDBPyConnection) -> int:
    """A warehouse loaded before hashing at load: hash ``raw.crm_customers.id_card_no`` into
    ``id_card_hash``, drop the clear column, and redact the quarantine. Returns rows hashed.

    Runs once (the clear column is gone afterwards), in one transaction. DuckDB may keep the
    dropped bytes in free blocks of the file until it is rewritten (``bullseye forget`` and
    the docs say how); no table or view can read them.
    """
    has_clear = con.execute("""SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw'
        AND table_name = 'crm_customers' AND column_name = 'id_card_no'""").fetchall()[0][0]
    if not has_clear:
        return 0
    salt = id_salt()[0]
    norm = NORMALIZE_SQL.format(x="id_card_no")
    con.begin()
    try:
        con.execute("ALTER TABLE raw.crm_customers ADD COLUMN IF NOT EXISTS id_card_hash VARCHAR")
        n = con.execute(f"""UPDATE raw.crm_customers SET id_card_hash = sha256(? || {norm})
            WHERE {norm} IS NOT NULL""", [salt]).fetchall()[0][0]
        con.execute("ALTER TABLE raw.crm_customers DROP COLUMN id_card_no")
        rows = con.execute("""SELECT rowid, column_name, record, value FROM meta.quarantine
            WHERE column_name = 'id_card_no' OR contains(record, '"id_card_no"')
               OR regexp_matches(coalesce(record, '') || ' ' || coalesce(value, ''), '[0-9]{15}')""").fetchall()
        for rowid, column, record, value in rows:
            value = hash_id_card(value, salt) if column == "id_card_no" else redact_text(value, salt)
            con.execute("UPDATE meta.quarantine SET record = ?, value = ? WHERE rowid = ?",
                        [redact_text(_hash_record_field(record, salt), salt), value, rowid])
        con.execute("UPDATE meta.quarantine SET column_name = 'id_card_hash' WHERE column_name = 'id_card_no'")
        con.commit()
    except Exception:
        con.rollback()
        raise
    return int(n)


def _hash_record_field(record: str | None, salt: str) -> str | None:
    """A quarantined record kept as JSON (a staged row): its ``id_card_no`` becomes ``id_card_hash``."""
    if not record or '"id_card_no"' not in record:
        return record
    try:
        obj = json.loads(record)
    except json.JSONDecodeError:
        return record  # a cut record: redact_text still replaces the numbers in it
    if not isinstance(obj, dict) or "id_card_no" not in obj:
        return record
    clear = obj.pop("id_card_no")
    obj["id_card_hash"] = hash_id_card(str(clear), salt) if clear is not None else None
    return json.dumps(obj, ensure_ascii=False)
