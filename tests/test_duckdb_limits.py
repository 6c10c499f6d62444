"""DuckDB's memory limit and threads come from one setting (bullseye.config.duckdb_limits) and reach every
connection a night opens: the pipeline's own (bullseye.warehouse.connect) and dbt's (the dbt plugin).

Why the answers are right: the limit is read back from DuckDB itself (current_setting), after setting the
environment to values no default would give; a value DuckDB could not read is refused with the variable's name.
"""

from __future__ import annotations

import duckdb
import pytest

from bullseye import config
from bullseye.dbt_plugin import Plugin
from bullseye.warehouse import connect


def _settings(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    return con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall()[0]


def test_the_settings_reach_the_pipelines_and_dbts_connections(tmp_path, monkeypatch):
    monkeypatch.setenv(config.MEMORY_LIMIT_ENV, "300MiB")
    monkeypatch.setenv(config.THREADS_ENV, "3")
    con = connect(tmp_path / "w.duckdb")
    try:
        memory, threads = _settings(con)
    finally:
        con.close()
    assert threads == 3 and memory in ("300.0 MiB", "314.5 MB"), memory
    other = duckdb.connect(str(tmp_path / "d.duckdb"))
    try:
        Plugin.__new__(Plugin).configure_connection(other)
        assert _settings(other) == (memory, 3)
    finally:
        other.close()


def test_defaults_come_from_the_machine(monkeypatch):
    monkeypatch.delenv(config.MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(config.THREADS_ENV, raising=False)
    monkeypatch.setattr(config, "_machine_memory_bytes", lambda: 16 * 2**30)
    memory, threads = config.duckdb_limits()
    assert memory == "8192MiB" and threads >= 1


@pytest.mark.parametrize("name,value", [("BULLSEYE_DUCKDB_MEMORY_LIMIT", "lots"),
                                        ("BULLSEYE_DUCKDB_MEMORY_LIMIT", "0GB"),
                                        ("BULLSEYE_DUCKDB_MEMORY_LIMIT", "12XB"),
                                        ("BULLSEYE_DUCKDB_THREADS", "0"), ("BULLSEYE_DUCKDB_THREADS", "two")])
def test_an_unreadable_setting_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        config.duckdb_limits()
