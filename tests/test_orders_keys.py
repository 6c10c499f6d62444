"""Orders are keyed by (source_system, order_id): two systems may use the same order number.

A hand-made landing zone whose answer is known:
  store_pos   c1 (张伟) orders O1 (100.00, one line 厨具 at cost 60) and O2 (80.00; its line names
              no source_system, but O2 is used by store_pos only, so it belongs there).
  web_shop    c9 (李娜) orders O1 too (250.00), and a later delivery corrects it to 240.00 (one
              line 母婴 at cost 2 x 100): an update of web_shop's O1 only, store_pos's O1 stays.
  (none)      c5's CRM record and order O3 name no source_system: both are the default system 'crm'.
  Two lines cannot be placed: O1 line 2 names no source_system while two systems use O1
  (ambiguous_order_id), and O9 has no order at all (no_order). Neither is attached to any order;
  both are listed in marts.order_lines_unattached.
"""

from __future__ import annotations

import duckdb
import pytest

from bullseye.cli import main
from bullseye.config import working_copy
from tests.conftest import write

pytestmark = pytest.mark.slow
AS_OF = "2026-11-24"

CRM = """source_system,source_customer_id,name,phone
store_pos,c1,张伟,13800138001
web_shop,c9,李娜,13900001111
,c5,王芳,13700002222
"""
ORDERS_1 = """order_id,source_system,source_customer_id,order_ts,amount
O1,store_pos,c1,2026-05-01 10:00:00,100.00
O1,web_shop,c9,2026-05-02 11:00:00,250.00
O2,store_pos,c1,2026-06-01 10:00:00,80.00
O3,,c5,2026-06-03 10:00:00,60.00
"""
ORDERS_2 = """order_id,source_system,source_customer_id,order_ts,amount
O1,web_shop,c9,2026-05-02 11:00:00,240.00
"""
LINES = """order_id,source_system,line_no,sku,category,quantity,unit_price,amount,unit_cost
O1,store_pos,1,SKU-A,厨具,1,100,100,60
O1,web_shop,1,SKU-B,母婴,2,120,240,100
O2,,1,SKU-C,食品,1,80,80,50
O3,,1,SKU-D,个护,1,60,60,30
O1,,2,SKU-E,食品,1,10,10,5
O9,,1,SKU-F,食品,1,10,10,5
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("order_keys")
    land = root / "land"
    write(land / "crm_customers" / "crm.csv", CRM)
    write(land / "orders" / "orders_1.csv", ORDERS_1)
    write(land / "orders" / "orders_2.csv", ORDERS_2)
    write(land / "order_lines" / "lines.csv", LINES)
    home = root / "home"
    assert main(["run", "--landing", str(land), "--as-of", AS_OF, "--home", str(home), "--steps", "load,build"]) == 0
    con = duckdb.connect(str(working_copy(home / "warehouse" / "bullseye.duckdb", AS_OF)), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_same_order_id_in_two_systems_gives_two_orders(warehouse):
    got = _rows(warehouse, """
        SELECT o.source_system, o.order_id, m.source_record_id, o.amount::DOUBLE,
               o.cost_of_goods::DOUBLE, o.margin::DOUBLE, o.n_lines
        FROM marts.fct_orders o JOIN marts.customer_identity_map m USING (customer_id)
        WHERE m.source = 'crm_customers' ORDER BY ALL""")
    assert got == [
        ("crm", "O3", "crm:c5", 60.0, 30.0, 30.0, 1),
        ("store_pos", "O1", "store_pos:c1", 100.0, 60.0, 40.0, 1),
        ("store_pos", "O2", "store_pos:c1", 80.0, 50.0, 30.0, 1),
        ("web_shop", "O1", "web_shop:c9", 240.0, 200.0, 40.0, 1),  # the later delivery won
    ]
    assert _rows(warehouse, "SELECT count(*) FROM marts.fct_orders") == [(4,)]
    assert _rows(warehouse, "SELECT order_key FROM marts.fct_orders ORDER BY 1") == [
        ("crm:O3",), ("store_pos:O1",), ("store_pos:O2",), ("web_shop:O1",)]


def test_lines_attach_to_their_own_order(warehouse):
    # each person's interests and purchase count come from their own orders and lines only
    interests = dict(_rows(warehouse, """
        SELECT m.source_record_id, i.bought_categories FROM marts.customer_interests i
        JOIN marts.customer_identity_map m USING (customer_id) WHERE m.source = 'crm_customers'"""))
    assert interests == {"store_pos:c1": ["厨具", "食品"], "web_shop:c9": ["母婴"], "crm:c5": ["个护"]}
    frequency = dict(_rows(warehouse, """
        SELECT m.source_record_id, r.frequency FROM marts.customer_rfm r
        JOIN marts.customer_identity_map m USING (customer_id) WHERE m.source = 'crm_customers'"""))
    assert frequency == {"store_pos:c1": 2, "web_shop:c9": 1, "crm:c5": 1}
    got = _rows(warehouse, """
        SELECT source_system, order_id, sku, line_status FROM intermediate.int_order_lines__enriched ORDER BY sku""")
    assert got == [
        ("store_pos", "O1", "SKU-A", "attached"),
        ("web_shop", "O1", "SKU-B", "attached"),
        ("store_pos", "O2", "SKU-C", "attached"),  # no source_system on the line: O2 is store_pos's only
        ("crm", "O3", "SKU-D", "attached"),
        (None, "O1", "SKU-E", "ambiguous_order_id"),  # no source_system and O1 is used twice: not guessed
        (None, "O9", "SKU-F", "no_order"),
    ]


def test_lines_without_an_order_are_listed_not_lost(warehouse):
    got = _rows(warehouse, """
        SELECT reason, order_id, delivered_source_system, line_no, sku FROM marts.order_lines_unattached
        ORDER BY ALL""")
    assert got == [("ambiguous_order_id", "O1", None, 2, "SKU-E"), ("no_order", "O9", None, 1, "SKU-F")]
    # every delivered line is either attached to an order or listed
    attached = _rows(warehouse, "SELECT sum(n_lines) FROM marts.fct_orders")[0][0]
    listed = _rows(warehouse, "SELECT count(*) FROM marts.order_lines_unattached")[0][0]
    assert attached + listed == _rows(warehouse, "SELECT count(*) FROM raw.order_lines")[0][0] == 6
