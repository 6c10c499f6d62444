"""Late-arriving data (issue 18): an order dated three days before the night that delivers it still updates
that customer's RFM, CLV and segments on that night.

The shared demo night (tests.conftest.demo_night, 2026-11-24) is copied; a lapsed repeat buyer X gets one
order dated 2026-11-22, delivered with the night of 2026-11-25 (three days late: the nights of 11-22 to 11-24
never saw it). The demo has no data after 11-23, so between the two nights X changes only by this order and
one more day; another lapsed buyer Y, untouched, shows what one more day alone does.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from bullseye.cli import main
from tests.conftest import copy_home, write

pytestmark = pytest.mark.slow
LATE_NIGHT = "2026-11-25"
LATE_ORDER_DAY = date(2026, 11, 22)
AMOUNT = Decimal("5000.00")


def _lapsed_repeat_buyers(published) -> list[tuple]:
    """(customer_id, source_system, source_customer_id, store_id) of lost repeat buyers whose orders all lie
    clear of the value window's edge (365 days back from either night), so one more day changes no total."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        return con.execute("""
            SELECT s.customer_id, any_value(o.source_system), any_value(o.source_customer_id),
                   any_value(o.store_id)
            FROM marts.customer_segments s
            JOIN marts.customer_clv c USING (customer_id)
            JOIN marts.fct_orders o USING (customer_id)
            WHERE s.lifecycle_stage = 'lost' AND c.repeat_purchases >= 2 AND o.source_customer_id IS NOT NULL
            GROUP BY s.customer_id
            HAVING count(*) FILTER (WHERE o.order_date BETWEEN DATE '2025-11-20' AND DATE '2025-11-27') = 0
            ORDER BY s.customer_id LIMIT 2""").fetchall()
    finally:
        con.close()


def _state(published, customer_id: str) -> dict:
    con = duckdb.connect(str(published), read_only=True)
    try:
        out = {}
        for table, cols in (("customer_rfm", "recency_days, frequency, monetary, last_order_date"),
                            ("customer_clv", "repeat_purchases, t_x_weeks, p_alive, expected_purchases_52w"),
                            ("customer_segments", "lifecycle_stage, recency_days, orders_12m, revenue_12m")):
            cur = con.execute(f"SELECT {cols} FROM marts.{table} WHERE customer_id = ?", [customer_id])
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            assert len(rows) == 1, (table, customer_id, rows)
            out[table] = dict(zip(names, rows[0], strict=True))
        out["late_orders"] = con.execute("SELECT order_date, amount FROM marts.fct_orders WHERE customer_id = ? "
                                         "AND order_id = 'LATE-1'", [customer_id]).fetchall()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def late_night(demo_landing, demo_night, tmp_path_factory):
    root = tmp_path_factory.mktemp("late")
    before = demo_night / "published" / "bullseye.duckdb"
    (x, system, source_id, store), (y, *_) = _lapsed_repeat_buyers(before)
    landing = root / "landing"
    shutil.copytree(demo_landing, landing)
    write(landing / "orders" / "late_2026-11-25.csv",
          "order_id,source_system,source_customer_id,order_ts,amount,store_id,channel,status\n"
          f"LATE-1,{system},{source_id},{LATE_ORDER_DAY} 14:05:00,{AMOUNT},{store},store,paid\n")
    write(landing / "order_lines" / "late_2026-11-25.csv",
          "order_id,line_no,sku,category,quantity,unit_price,amount,unit_cost\n"
          f"LATE-1,1,SKU-LATE,大家电,1,{AMOUNT},{AMOUNT},3500.00\n")
    home = copy_home(demo_night, root / "home")
    assert main(["run", "--landing", str(landing), "--as-of", LATE_NIGHT, "--home", str(home)]) == 0
    after = home / "published" / "bullseye.duckdb"
    return {"x": (_state(before, x), _state(after, x)), "y": (_state(before, y), _state(after, y))}


def test_the_late_order_is_in_the_facts_of_the_night_that_delivers_it(late_night):
    before, after = late_night["x"]
    assert before["late_orders"] == []
    assert after["late_orders"] == [(LATE_ORDER_DAY, AMOUNT)]


def test_the_late_order_updates_rfm(late_night):
    (before, after), (y0, y1) = late_night["x"], late_night["y"]
    rfm0, rfm1 = before["customer_rfm"], after["customer_rfm"]
    assert rfm1["last_order_date"] == LATE_ORDER_DAY
    assert rfm1["recency_days"] == (date.fromisoformat(LATE_NIGHT) - LATE_ORDER_DAY).days == 3
    assert rfm1["frequency"] == rfm0["frequency"] + 1
    assert rfm1["monetary"] == rfm0["monetary"] + AMOUNT
    # the untouched buyer only ages by the day
    assert y1["customer_rfm"]["recency_days"] == y0["customer_rfm"]["recency_days"] + 1
    assert (y1["customer_rfm"]["frequency"], y1["customer_rfm"]["monetary"]) == \
        (y0["customer_rfm"]["frequency"], y0["customer_rfm"]["monetary"])


def test_the_late_order_updates_clv(late_night):
    (before, after), (y0, y1) = late_night["x"], late_night["y"]
    clv0, clv1 = before["customer_clv"], after["customer_clv"]
    assert clv1["repeat_purchases"] == clv0["repeat_purchases"] + 1
    assert clv1["t_x_weeks"] > clv0["t_x_weeks"]  # the last purchase moved to 11-22
    assert clv1["p_alive"] > clv0["p_alive"]  # a lapsed buyer who buys again is more likely alive
    assert clv1["expected_purchases_52w"] > clv0["expected_purchases_52w"]
    assert y1["customer_clv"]["repeat_purchases"] == y0["customer_clv"]["repeat_purchases"]


def test_the_late_order_updates_the_segments(late_night):
    (before, after), (y0, y1) = late_night["x"], late_night["y"]
    seg0, seg1 = before["customer_segments"], after["customer_segments"]
    assert seg0["lifecycle_stage"] == "lost"
    assert seg1["lifecycle_stage"] == "won_back"
    assert seg1["recency_days"] == 3
    assert seg1["orders_12m"] == seg0["orders_12m"] + 1
    assert seg1["revenue_12m"] == seg0["revenue_12m"] + AMOUNT
    assert y1["customer_segments"]["lifecycle_stage"] == "lost"
    assert y1["customer_segments"]["orders_12m"] == y0["customer_segments"]["orders_12m"]
