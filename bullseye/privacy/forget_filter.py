"""The loader's check against the forget-list: a forgotten person is held back at load.

A person who asked to be forgotten (``bullseye forget``) must not come back with the next
delivery: a purchased list bought again, a CRM export that still has them. The loader calls
:func:`hold_forgotten` on each delivery's staged rows (temp table ``_stage``, raw text columns
plus ``_line``) before it types and inserts them. Every row whose phone, email, ID-card number,
WeChat unionid, member card, source record or customer_id has a key in ``meta.forget_list`` is
removed from ``_stage`` and recorded in ``meta.quarantine`` with the reason
``forgotten at the person's request``, its file and line, and *no values* (``value`` and
``record`` stay NULL): keeping the row's contents would undo the erasure.

The keys are computed as :func:`bullseye.privacy.keys.forget_key` computes them, in a Python
function registered on the loader's connection, so a phone written ``+86 138 1234 5678`` in a
new file matches the key of ``13812345678`` forgotten earlier.
"""

from __future__ import annotations

import duckdb

from bullseye.privacy.keys import forget_key, id_card_hash
from bullseye.publish import sql_identifier, sql_literal

REASON = "forgotten at the person's request"
UDF = "bz_forget_key"
# (kind, SQL of the value the key is computed on) per staged column; ``record`` names the source
# record the row is or points at (crm_customers, orders and service name a CRM record).
RECORD_SOURCES = {"crm_customers": "crm_customers", "orders": "crm_customers", "service": "crm_customers"}


def forgotten_keys(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(kind, key_hash) of everyone forgotten; empty when nobody was (or the table does not exist)."""
    has = con.execute("""SELECT count(*) FROM duckdb_tables()
        WHERE schema_name = 'meta' AND table_name = 'forget_list'""").fetchall()[0][0]
    if not has:
        return set()
    return set(con.execute("SELECT DISTINCT kind, key_hash FROM meta.forget_list").fetchall())


def _register(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.remove_function(UDF)
    except Exception:  # noqa: BLE001 - not registered yet on this connection
        pass
    con.create_function(UDF, _key, ["VARCHAR", "VARCHAR"], "VARCHAR", null_handling="special", side_effects=False)


def _key(kind: str | None, value: str | None) -> str | None:
    if kind is None or value is None:
        return None
    if kind == "id_card_no":  # delivered in clear: hashed as staging hashes it, then keyed
        return forget_key("id_card", id_card_hash(value))
    return forget_key(kind, value)


def key_expressions(source: str, columns: set[str]) -> list[tuple[str, str]]:
    """(kind, SQL value) pairs to key for a staged delivery of ``source`` with these columns."""
    q = sql_identifier
    out: list[tuple[str, str]] = []
    for col, kind in (("phone", "phone"), ("email", "email"), ("wechat_unionid", "wechat_unionid"),
                      ("member_card_no", "member_card"), ("customer_id", "customer_id"),
                      ("id_card_hash", "id_card")):
        if col in columns:
            out.append((kind, q(col)))
    if "id_card_no" in columns:
        out.append(("id_card_no", q("id_card_no")))
    if source in RECORD_SOURCES and "source_customer_id" in columns:
        system = f"coalesce(trim({q('source_system')}), 'crm')" if "source_system" in columns else "'crm'"
        out.append(("record", f"{sql_literal(RECORD_SOURCES[source] + '|')} || {system} || ':' || "
                              f"trim({q('source_customer_id')})"))
    if source == "lists" and {"list_id", "list_record_id"} <= columns:
        out.append(("record", f"'lists|' || {q('list_id')} || ':' || trim({q('list_record_id')})"))
    return out


def hold_forgotten(con: duckdb.DuckDBPyConnection, source: str, delivery_id: int, rel: str,
                   table: str = "_stage") -> int:
    """Move the staged rows of forgotten people to the quarantine (no values kept); returns how many.

    Call it once per delivery after staging and before typing and inserting; it is idempotent
    (a second call finds nothing left to hold)."""
    keys = forgotten_keys(con)
    if not keys:
        return 0
    columns = {r[0] for r in con.execute(f"DESCRIBE {sql_identifier(table)}").fetchall()}
    exprs = key_expressions(source, columns)
    if not exprs or "_line" not in columns:
        return 0
    _register(con)
    con.execute("CREATE OR REPLACE TEMP TABLE _forgotten (kind VARCHAR, key_hash VARCHAR)")
    con.executemany("INSERT INTO _forgotten VALUES (?, ?)", sorted(keys))
    keyed = " UNION ALL ".join(
        f"SELECT _line, {sql_literal('id_card' if kind == 'id_card_no' else kind)} AS kind, "
        f"{UDF}({sql_literal(kind)}, {expr}) AS key_hash FROM {sql_identifier(table)}" for kind, expr in exprs)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _held_forgotten AS
        SELECT DISTINCT k._line FROM ({keyed}) k JOIN _forgotten f USING (kind, key_hash)""")
    held = con.execute("SELECT count(*) FROM _held_forgotten").fetchall()[0][0]
    if held:
        con.execute("""INSERT INTO meta.quarantine (delivery_id, source, path, line, column_name, value, reason,
                           action, record, severity)
            SELECT ?, ?, ?, _line, NULL, NULL, ?, 'row_held', NULL, 'quarantine' FROM _held_forgotten ORDER BY _line""",
                    [delivery_id, source, rel, REASON])
        con.execute(f"DELETE FROM {sql_identifier(table)} WHERE _line IN (SELECT _line FROM _held_forgotten)")
    con.execute("DROP TABLE _held_forgotten; DROP TABLE _forgotten")
    return held
