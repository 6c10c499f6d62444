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


def _settings(con: duckdb.DuckDBPyConnection) -> tuple[str, int, str]:
    return con.execute("SELECT current_setting('memory_limit'), current_setting('threads'), "
                       "current_setting('max_temp_directory_size')").fetchall()[0]


def test_the_settings_reach_the_pipelines_and_dbts_connections(tmp_path, monkeypatch):
    monkeypatch.setenv(config.MEMORY_LIMIT_ENV, "300MiB")
    monkeypatch.setenv(config.THREADS_ENV, "3")
    monkeypatch.setenv(config.SPILL_LIMIT_ENV, "7GiB")
    con = connect(tmp_path / "w.duckdb")
    try:
        memory, threads, spill = _settings(con)
    finally:
        con.close()
    assert threads == 3 and memory in ("300.0 MiB", "314.5 MB"), memory
    assert spill == "7.0 GiB"
    other = duckdb.connect(str(tmp_path / "d.duckdb"))
    try:
        Plugin.__new__(Plugin).configure_connection(other)
        assert _settings(other) == (memory, 3, spill)
    finally:
        other.close()


def test_the_default_spill_limit_is_half_the_free_disk_where_it_spills(tmp_path, monkeypatch):
    """DuckDB's own default (90% of the free disk) let one scale-100 query fill a shared disk (issue 18)."""
    monkeypatch.delenv(config.SPILL_LIMIT_ENV, raising=False)
    seen = []
    monkeypatch.setattr(config, "_free_disk_bytes", lambda folder: seen.append(folder) or 10 * 2**30)
    assert config.duckdb_spill_limit(tmp_path / "w.duckdb.tmp") == "5120MiB"
    assert seen == [tmp_path / "w.duckdb.tmp"]
    monkeypatch.undo()
    # the temp folder does not exist until DuckDB spills: the free space of its parent counts
    assert config._free_disk_bytes(tmp_path / "not" / "yet") > 0


def test_a_query_that_spills_past_the_limit_fails_with_what_to_change(tmp_path, monkeypatch):
    from bullseye.warehouse import limit_hint

    monkeypatch.setenv(config.MEMORY_LIMIT_ENV, "300MiB")
    monkeypatch.setenv(config.THREADS_ENV, "1")
    monkeypatch.setenv(config.SPILL_LIMIT_ENV, "1MiB")
    con = connect(tmp_path / "w.duckdb")
    try:
        con.execute("SET preserve_insertion_order = false")
        with pytest.raises(duckdb.OutOfMemoryException, match="max_temp_directory_size") as caught:
            con.execute("CREATE TABLE t AS SELECT i, md5(i::varchar) AS m FROM range(20000000) r(i) ORDER BY m")
    finally:
        con.close()
    hint = limit_hint(str(caught.value))
    assert config.SPILL_LIMIT_ENV in hint and "free disk" in hint
    assert limit_hint("Binder Error: column x not found") == ""


def test_defaults_come_from_the_machine(monkeypatch):
    monkeypatch.delenv(config.MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(config.THREADS_ENV, raising=False)
    monkeypatch.setattr(config, "_machine_memory_bytes", lambda: 16 * 2**30)
    memory, threads = config.duckdb_limits()
    assert memory == "5734MiB" and threads >= 1  # 35% of 16 GiB


@pytest.mark.parametrize("name,value", [("BULLSEYE_DUCKDB_MEMORY_LIMIT", "lots"),
                                        ("BULLSEYE_DUCKDB_MEMORY_LIMIT", "0GB"),
                                        ("BULLSEYE_DUCKDB_MEMORY_LIMIT", "12XB"),
                                        ("BULLSEYE_DUCKDB_THREADS", "0"), ("BULLSEYE_DUCKDB_THREADS", "two"),
                                        ("BULLSEYE_DUCKDB_SPILL_LIMIT", "plenty")])
def test_an_unreadable_setting_is_refused_by_name(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        config.duckdb_limits()
        config.duckdb_spill_limit(tmp_path)
