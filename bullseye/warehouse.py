"""Opening the DuckDB warehouse from any step, even in a process where dbt ran.

DuckDB refuses a second connection to a file with other settings (read_only,
for one) while a connection is open in the same process. dbt-duckdb keeps its
connection open after a run; in ``bullseye run`` and under ``airflow dags
test`` (which run every task in one process) later steps must close it first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def release_dbt_connection() -> None:
    """Close the database dbt-duckdb keeps open in this process, if dbt ran here."""
    if "dbt.adapters.duckdb.connections" not in sys.modules:
        return
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def apply_limits(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Bound the connection's memory and threads (bullseye.config.duckdb_limits). What does not fit spills to
    DuckDB's default temp directory, ``<database file>.tmp`` beside the file, removed when it closes."""
    from bullseye.config import duckdb_limits

    memory, threads = duckdb_limits()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {threads}")
    return con


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    release_dbt_connection()
    return apply_limits(duckdb.connect(str(path), read_only=read_only))
