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
    DuckDB's default temp directory, ``<database file>.tmp`` beside the file, removed when it closes, up to
    bullseye.config.duckdb_spill_limit, so that a query spilling without end fails instead of filling the disk."""
    from bullseye.config import duckdb_limits, duckdb_spill_limit

    memory, threads = duckdb_limits()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {threads}")
    con.execute("SET enable_progress_bar = false")  # a long query would draw one into the night's output
    temp_directory = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    con.execute(f"SET max_temp_directory_size = '{duckdb_spill_limit(Path(temp_directory or '.'))}'")
    return con


def limit_hint(message: str) -> str:
    """What to change when DuckDB stopped at one of bullseye's bounds: its own message names DuckDB's setting,
    not the variable bullseye sets it from."""
    from bullseye.config import MEMORY_LIMIT_ENV, SPILL_LIMIT_ENV

    if "max_temp_directory_size" in message:
        return (f"\nDuckDB needed to spill more than bullseye allows ({SPILL_LIMIT_ENV}, default half the free "
                "disk where the warehouse is): free disk space, or raise the limit, or the memory limit "
                f"({MEMORY_LIMIT_ENV}) so less spills")
    if "Out of Memory" in message:
        return (f"\nDuckDB reached its memory limit ({MEMORY_LIMIT_ENV}) and could not spill what did not fit: "
                "raise the limit, or lower BULLSEYE_DUCKDB_THREADS (each thread holds its own buffers)")
    return ""


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    release_dbt_connection()
    return apply_limits(duckdb.connect(str(path), read_only=read_only))
