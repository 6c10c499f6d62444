"""Publish the marts as a separate read-only DuckDB file for BI tools.

DuckDB does not let a reader open a file while a writer holds it, so BI tools
never open the working warehouse. Each successful run writes a fresh copy of
the ``marts`` schema to a temporary file and swaps it in with an atomic rename:
a reader sees either last night's publication or tonight's, never a mix, and a
run that fails before this step leaves the last good publication untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from bullseye.warehouse import release_dbt_connection

PUBLISHED_SCHEMAS = ("marts",)


def publish(warehouse: Path, target: Path, run_id: str) -> dict[str, int]:
    """Copy the published schemas to ``target`` atomically; returns row counts per table."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    release_dbt_connection()
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            tables = con.execute("""SELECT table_name FROM duckdb_tables()
                                    WHERE database_name = 'wh' AND schema_name = ? ORDER BY 1""",
                                 [schema]).fetchall()
            for (table,) in tables:
                con.execute(f"CREATE TABLE {schema}.{table} AS SELECT * FROM wh.{schema}.{table}")
                counts[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchall()[0][0]
        con.execute("CREATE TABLE main.publication AS SELECT ? AS run_id, now() AS published_at", [run_id])
        con.execute("DETACH wh")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    return counts
