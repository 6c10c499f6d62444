"""Publish the marts as a separate read-only DuckDB file for BI tools.

DuckDB does not let a reader open a file while a writer holds it, so BI tools
never open the working warehouse. Each successful run writes a fresh copy of
the ``marts`` schema to a temporary file and swaps it in with an atomic rename:
a reader sees either last night's publication or tonight's, never a mix, and a
run that fails before this step leaves the last good publication untouched.

The warehouse is attached under a generated alias: DuckDB names an opened file's
database after its file name, so a fixed alias collides with a warehouse or a
publication that happens to share it (``wh.duckdb`` published as ``wh.duckdb``).
Paths and names reach SQL only as quoted literals and identifiers.

Beside the full ``marts`` tables (for roles that need contact data) the publication offers
``marts_masked``: a masked copy of each table with phones masked (``138****5678``), names cut to the
family name, birth dates as years, and no email, ID-card hash or address
(:mod:`bullseye.privacy.masking`). BI roles that need no contact data read those.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from bullseye.warehouse import apply_limits, release_dbt_connection

PUBLISHED_SCHEMAS = ("marts",)


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (single quotes doubled), for statements that take no parameters."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def _remove_file_and_wal(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def publish(warehouse: Path, target: Path, run_id: str) -> dict[str, int]:
    """Copy the published schemas to ``target`` atomically; returns row counts per table."""
    warehouse, target = Path(warehouse), Path(target)
    if not warehouse.is_file():
        raise FileNotFoundError(f"cannot publish: the warehouse {warehouse} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp")  # never equal to target, whatever its suffix
    _remove_file_and_wal(tmp)  # a leftover of a killed run
    alias = f"bullseye_source_{uuid.uuid4().hex}"
    counts: dict[str, int] = {}
    release_dbt_connection()
    try:
        con = apply_limits(duckdb.connect(str(tmp)))
        try:
            _copy_schemas(con, warehouse, alias, run_id, counts)
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        _remove_file_and_wal(tmp)
        raise
    return counts


def create_masked_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The masked copies of the marts (imported here: bullseye.privacy uses this module's quoting helpers)."""
    from bullseye.privacy.masking import create_masked_tables as create

    create(con)


def _copy_comments(con: duckdb.DuckDBPyConnection, alias: str, target: str, schema: str, table: str) -> None:
    """Carry the table's and its columns' comments over: CREATE TABLE AS copies none, and they are the
    descriptions of the marts' yml (dbt persist_docs) that BI tools show."""
    key = [alias, schema, table]
    for (comment,) in con.execute("""SELECT comment FROM duckdb_tables() WHERE database_name = ?
                                     AND schema_name = ? AND table_name = ? AND comment IS NOT NULL""", key).fetchall():
        con.execute(f"COMMENT ON TABLE {target} IS {sql_literal(comment)}")
    for column, comment in con.execute("""SELECT column_name, comment FROM duckdb_columns() WHERE database_name = ?
                                          AND schema_name = ? AND table_name = ? AND comment IS NOT NULL""",
                                       key).fetchall():
        con.execute(f"COMMENT ON COLUMN {target}.{sql_identifier(column)} IS {sql_literal(comment)}")


def _copy_schemas(con: duckdb.DuckDBPyConnection, warehouse: Path, alias: str, run_id: str,
                  counts: dict[str, int]) -> None:
    # The publication's own database, named in full: a schema may share a database's name (marts.duckdb).
    own = sql_identifier(con.execute("SELECT current_database()").fetchall()[0][0])
    con.execute(f"ATTACH {sql_literal(warehouse)} AS {sql_identifier(alias)} (READ_ONLY)")
    for schema in PUBLISHED_SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {own}.{sql_identifier(schema)}")
        tables = con.execute("""SELECT table_name FROM duckdb_tables()
                                WHERE database_name = ? AND schema_name = ? ORDER BY 1""",
                             [alias, schema]).fetchall()
        for (table,) in tables:
            name = f"{sql_identifier(schema)}.{sql_identifier(table)}"
            con.execute(f"CREATE TABLE {own}.{name} AS SELECT * FROM {sql_identifier(alias)}.{name}")
            _copy_comments(con, alias, f"{own}.{name}", schema, table)
            counts[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM {own}.{name}").fetchall()[0][0]
    con.execute(f"CREATE TABLE {own}.main.publication AS SELECT ? AS run_id, now() AS published_at", [run_id])
    con.execute(f"DETACH {sql_identifier(alias)}")
    create_masked_tables(con)
    con.execute("CHECKPOINT")
