"""History between nights: declared tables that explicit steps write and dbt reads as sources.

Two histories decide what a night does, so they cannot live in tables dbt may rebuild: every
night's contact decisions (``history.contact_decisions``: caps, waves, list changes and campaign
results count earlier nights' lists) and the lifecycle stage changes (``history.lifecycle_stages``:
the hysteresis reads each customer's previous stage). dbt reads them as the sources
``history.contact_decisions`` and ``history.lifecycle_stages``; its models compute tonight and
union it with the earlier nights, so ``dbt build --full-refresh`` rebuilds the marts from history
and never erases it. :func:`record` writes tonight's rows after the build, on the night's working
copy, so a night's history is committed with the night (bullseye.night) and a failed night leaves
none. Identity state (``identity.*``) is written by the identity step (bullseye.identity.step).
"""

from __future__ import annotations

from datetime import date

import duckdb

SCHEMA = "history"

# Column lists are the marts' (contract): the history keeps exactly what the marts publish.
TABLES: dict[str, dict[str, str]] = {
    "contact_decisions": {
        "run_date": "DATE", "send_date": "DATE", "campaign_id": "VARCHAR", "customer_id": "VARCHAR",
        "occurrence_key": "VARCHAR", "wave": "INTEGER", "wave_name": "VARCHAR", "channel": "VARCHAR",
        "decision": "VARCHAR", "reason": "VARCHAR", "detail": "VARCHAR", "is_holdout": "BOOLEAN",
        "rank_score": "DOUBLE", "priority": "INTEGER", "send_after": "TIMESTAMP", "send_before": "TIMESTAMP",
        "purpose": "VARCHAR", "legal_basis": "VARCHAR", "sms_signature": "VARCHAR", "sms_opt_out_text": "VARCHAR",
    },
    "lifecycle_stages": {
        "customer_id": "VARCHAR", "as_of_date": "DATE", "lifecycle_stage": "VARCHAR", "previous_stage": "VARCHAR",
        "last_purchase": "DATE", "recency_days": "BIGINT", "rhythm_days": "DOUBLE", "silence_gaps": "DOUBLE",
        "p_alive": "DOUBLE",
    },
}
# The night column of each table, and the model whose tonight's rows are recorded in it.
NIGHT_COLUMN = {"contact_decisions": "run_date", "lifecycle_stages": "as_of_date"}
RECORDED_FROM = {"contact_decisions": "int_activation__decision_history",
                 "lifecycle_stages": "int_customer__lifecycle"}
# Where a warehouse built before these tables kept the same rows (dbt incremental models).
_LEGACY = {"contact_decisions": ("marts", "contact_decisions"),
           "lifecycle_stages": ("intermediate", "int_customer__lifecycle")}


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [schema, table]).fetchall()[0][0] > 0


def ensure(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the history tables; a warehouse that kept these rows in dbt models (before the
    tables existed) has them copied over once, so no earlier night is lost. Returns what it copied."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    copied = []
    for table, columns in TABLES.items():
        if _exists(con, SCHEMA, table):
            continue
        cols = ", ".join(f"{c} {t}" for c, t in columns.items())
        con.execute(f"CREATE TABLE {SCHEMA}.{table} ({cols})")
        schema, legacy = _LEGACY[table]
        if _exists(con, schema, legacy):
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [schema, legacy]).fetchall()}
            select = ", ".join(c if c in have else f"NULL::{t} AS {c}" for c, t in columns.items())
            con.execute(f"INSERT INTO {SCHEMA}.{table} SELECT {select} FROM {schema}.{legacy}")
            copied.append(f"{schema}.{legacy} -> {SCHEMA}.{table}")
    return copied


def record(con: duckdb.DuckDBPyConnection, as_of: date, relations: dict[str, str]) -> dict[str, int]:
    """Replace tonight's rows of each history table with those the build computed.

    ``relations`` maps each model of :data:`RECORDED_FROM` to its relation (from dbt's manifest).
    Re-running a night replaces exactly that night; other nights are never touched."""
    ensure(con)
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, columns in TABLES.items():
            night = NIGHT_COLUMN[table]
            cols = ", ".join(columns)
            con.execute(f"DELETE FROM {SCHEMA}.{table} WHERE {night} = ?", [as_of])
            con.execute(f"INSERT INTO {SCHEMA}.{table} ({cols}) SELECT {cols} FROM {relations[RECORDED_FROM[table]]} "
                        f"WHERE {night} = ?", [as_of])
            counts[table] = con.execute(f"SELECT count(*) FROM {SCHEMA}.{table} WHERE {night} = ?",
                                        [as_of]).fetchall()[0][0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return counts
