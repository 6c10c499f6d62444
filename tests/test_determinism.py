"""The same night twice gives the same marts, byte for byte (issue 12, case 8).

Ties in ORDER BY, arg_max and first() went to chance, and floating-point sums depended on the
order parallel threads added in. The slow test builds one demo night twice from one landing zone
into two warehouses, with DuckDB on 4 threads so parallel aggregation happens even on a small
machine, and compares every table of schema marts. The fast test pins the tie rule of
customer_interests.top_category on a hand-made tie, rendering the model's own SQL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from bullseye.config import DBT_PROJECT_DIR, project_vars
from tests.conftest import DEMO_NIGHT, render_model_sql

AS_OF = DEMO_NIGHT
INTERESTS_MODEL = DBT_PROJECT_DIR / "models" / "intermediate" / "customer_value" / "int_customer__interests.sql"


_NO_DEFAULT = object()


def _var(name: str, default=_NO_DEFAULT):
    """dbt's var(): the project's value, else the default given, else an error (a typo is not a silent NULL)."""
    values = project_vars()
    if name in values or default is _NO_DEFAULT:
        return values[name]
    return default


def _render(model: Path, refs: dict[str, str]) -> str:
    """The model's SQL with its refs pointed at the given tables, as the nightly build renders it (the project's
    macros dispatching to DuckDB's SQL: conftest.render_model_sql)."""
    return render_model_sql(model, ref=refs.__getitem__, as_of_date=lambda: f"DATE '{AS_OF}'", var=_var)


# P: 厨具 bought once (1 x 3 + 0 = 3) against 食品 viewed three times (0 x 3 + 3 = 3): more orders wins.
# Q: 母婴 and 个护 bought once each, no views: equal in everything, the first by name (个护) wins.
LINES = [("store_pos", "O1", "SKU-1", "厨具"), ("store_pos", "O2", "SKU-2", "母婴"),
         ("store_pos", "O3", "SKU-3", "个护"), ("store_pos", "O9", "SKU-9", "食品")]
ORDERS = [("store_pos", "O1", "P"), ("store_pos", "O2", "Q"), ("store_pos", "O3", "Q"), ("store_pos", "O9", "R")]
VIEWS = [("anon-p", "SKU-9")] * 3


def _top_categories(lines: list[tuple], orders: list[tuple], threads: int) -> dict[str, str]:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("CREATE TABLE lines (source_system VARCHAR, order_id VARCHAR, sku VARCHAR, category VARCHAR, "
                "unit_price DECIMAL(18, 2))")
    con.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, 100)", lines)
    con.execute("CREATE TABLE orders (source_system VARCHAR, order_id VARCHAR, order_key VARCHAR, "
                "customer_id VARCHAR, is_refunded BOOLEAN, discount_amount DECIMAL(18, 2), coupon_code VARCHAR)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ? || ':' || ?, ?, false, 0, NULL)",
                    [(s, o, s, o, c) for s, o, c in orders])
    con.execute("CREATE TABLE events (anonymous_id VARCHAR, event_type VARCHAR, properties VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, 'product_view', json_object('sku', ?))", VIEWS)
    con.execute("CREATE TABLE idmap AS SELECT 'events' AS source, 'anon-p' AS source_record_id, 'P' AS customer_id")
    sql = _render(INTERESTS_MODEL, {"int_order_lines__enriched": "lines", "int_orders__enriched": "orders",
                                    "stg_web__events": "events", "int_identity__customer_map": "idmap"})
    try:
        return dict(con.execute(f"SELECT customer_id, top_category FROM ({sql})").fetchall())
    finally:
        con.close()


def _row_orders(rows: list[tuple]) -> list[list[tuple]]:
    """Every rotation of ``rows``, forwards and backwards: the tie's rows reach the model in each order."""
    rotations = [rows[i:] + rows[:i] for i in range(len(rows))]
    return rotations + [r[::-1] for r in rotations]


@pytest.mark.parametrize("threads", [1, 4])
def test_top_category_ties_follow_the_rule_in_any_row_order(threads):
    answers = {frozenset(_top_categories(lines, orders, threads).items())
               for lines in _row_orders(LINES) for orders in (ORDERS, ORDERS[::-1])}
    assert answers == {frozenset({"P": "厨具", "Q": "个护", "R": "食品"}.items())}


# ----------------------------------------------------------------------------- the whole night, twice

def _marts_digest(db: Path) -> dict[str, tuple[int, str]]:
    """Every table of schema marts: its row count and the SHA-256 of its rows in ORDER BY ALL order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                                            "ORDER BY 1").fetchall()]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM marts."{t}" ORDER BY ALL').fetchall()
            out[t] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


@pytest.fixture()
def parallel_duckdb(monkeypatch):
    """Every connection dbt opens runs DuckDB on 4 threads, whatever the machine's core count."""
    from bullseye import dbt_plugin

    configure = dbt_plugin.Plugin.configure_connection

    def with_threads(self, conn):
        configure(self, conn)
        conn.execute("SET threads = 4")

    monkeypatch.setattr(dbt_plugin.Plugin, "configure_connection", with_threads)


@pytest.mark.slow
def test_same_night_twice_gives_identical_marts(demo_landing, demo_night, tmp_path, parallel_duckdb):
    """The shared demo night (built with the machine's threads, in whichever worker asked first) against the
    same night built again here with 4 DuckDB threads: no marts table may differ."""
    from bullseye.cli import main

    first = _marts_digest(demo_night / "warehouse" / "bullseye.duckdb")
    home = tmp_path / "second"
    assert main(["run", "--landing", str(demo_landing), "--as-of", AS_OF, "--home", str(home)]) == 0
    second = _marts_digest(home / "warehouse" / "bullseye.duckdb")
    assert {"customer_interests", "salesperson_value_matrix", "fct_orders", "target_lists"} <= first.keys()
    assert first["customer_interests"][0] > 0 and first["salesperson_value_matrix"][0] > 0
    differ = sorted(t for t in first.keys() | second.keys() if first.get(t) != second.get(t))
    assert not differ, f"marts tables that differ between two builds of the same night: {differ}"
