"""Incremental staging models (issue 18; dbt_project/macros/incremental.sql).

stg_web__events, stg_sales__orders and stg_crm__customers add, each night, only the keys that changed since
the last one. On a hand-made landing zone (not the demo), with a late order, a late event, corrections of an
order, an event and a customer, a new customer, and an event dated after the run date:

* the incremental night equals a `--full-refresh` night of the same data, table for table (order lines
  are appended by delivery: stg_sales__order_lines);
* the corrections replace, the late rows join, the future event waits for its night, even a night later
  than the next one;
* a backfill rebuilds in full on its copy, holds nothing after its date, and leaves the committed
  warehouse's watermark alone; the run summary says why a model was rebuilt in full;
* changed code (another model checksum or normalizer fingerprint in the watermark) rebuilds in full.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from bullseye.cli import main
from bullseye.transform import incremental_notes, incremental_watermarks
from tests.conftest import copy_home, db_rows, write

pytestmark = pytest.mark.slow
INCREMENTAL = ("staging.stg_crm__customers", "staging.stg_sales__order_lines", "staging.stg_sales__orders",
               "staging.stg_web__events")

CRM = """source_customer_id,name,phone,email,updated_at
c1,张伟,138 0013 8001,zw@example.com,2026-01-01
c2,李娜,+86 139-0000-1111,,2026-01-01
c3,王芳,13700001234,wf@example.com,2026-01-01
"""
ORDERS = """order_id,source_customer_id,order_ts,amount,status
o1,c1,2026-01-05 10:00:00,120.50,paid
o2,c1,2026-03-01 11:00:00,80.00,paid
o3,c2,2026-04-01 12:00:00,300.00,paid
o4,c3,2026-11-20 09:30:00,55.00,paid
"""
LINES = """order_id,line_no,sku,category,quantity,unit_price,amount,unit_cost
o1,1,SKU-1,厨具,1,120.50,120.50,80.00
o2,1,SKU-2,小家电,2,40.00,80.00,50.00
o3,1,SKU-3,大家电,1,300.00,300.00,210.00
o4,1,SKU-1,厨具,1,55.00,55.00,40.00
"""
LATE_LINES = """order_id,line_no,sku,category,quantity,unit_price,amount,unit_cost
o5,1,SKU-3,大家电,1,999.00,999.00,700.00
o3,1,SKU-3,大家电,1,300.00,300.00,200.00
"""


def _event(event_id: str, ts: str, event_type: str, **extra) -> str:
    return json.dumps({"event_id": event_id, "event_ts": ts, "anonymous_id": f"anon-{event_id}",
                       "event_type": event_type, **extra}, ensure_ascii=False) + "\n"


EVENTS = (_event("e1", "2026-11-20T10:00:00", "page_view")
          + _event("e2", "2026-11-21T10:00:00", "form_submit", phone="138 0013 8001")
          + _event("e3", "2026-11-27T09:00:00", "page_view"))  # after the first nights' run dates
# delivered with the night of 11-25
LATE_ORDERS = """order_id,source_customer_id,order_ts,amount,status
o5,c2,2026-11-22 14:05:00,999.00,paid
o2,c1,2026-03-01 11:00:00,80.00,refunded
"""
LATE_EVENTS = (_event("e4", "2026-11-22T16:00:00", "product_view")
               + _event("e2", "2026-11-21T10:00:00", "SIGNUP", phone="138 0013 8001"))
CRM_UPDATE = """source_customer_id,name,phone,email,updated_at
c1,张伟,138 0013 8001,zhang.wei@example.com,2026-11-25
c4,赵敏,13600005678,,2026-11-25
"""


def _watermarks(db) -> dict[str, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return incremental_watermarks(con)
    finally:
        con.close()


def _notes(db, as_of: str, kind: str = "night") -> list[str]:
    (summary,), = db_rows(db, "SELECT summary FROM meta.nights WHERE as_of = ? AND kind = ?", as_of, kind)
    return json.loads(summary)["notes"]


def _run(land, home, as_of: str, *extra: str) -> None:
    assert main(["run", "--landing", str(land), "--as-of", as_of, "--home", str(home), *extra]) == 0


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    land, home = root / "land", root / "home"
    write(land / "crm_customers" / "a.csv", CRM)
    write(land / "orders" / "o.csv", ORDERS)
    write(land / "order_lines" / "l.csv", LINES)
    write(land / "events" / "e.jsonl", EVENTS)
    _run(land, home, "2026-11-24")
    first = _watermarks(home / "warehouse" / "bullseye.duckdb")
    full_home = copy_home(home, root / "full")
    write(land / "orders" / "late.csv", LATE_ORDERS)
    write(land / "order_lines" / "late.csv", LATE_LINES)  # o5's line, and o3's line again with another cost
    write(land / "events" / "late.jsonl", LATE_EVENTS)
    write(land / "crm_customers" / "update.csv", CRM_UPDATE)
    _run(land, home, "2026-11-25")
    _run(land, full_home, "2026-11-25", "--full-refresh")
    return {"land": land, "home": home, "full": full_home, "first": first}


def test_the_first_night_builds_in_full_and_records_a_watermark(nights):
    assert sorted(nights["first"]) == list(INCREMENTAL)
    for w in nights["first"].values():
        assert w["built"] == "full" and w["as_of"] == "2026-11-24"


def test_an_incremental_night_equals_a_full_refresh(nights):
    inc, full = nights["home"] / "warehouse" / "bullseye.duckdb", nights["full"] / "warehouse" / "bullseye.duckdb"
    assert {n: w["built"] for n, w in _watermarks(inc).items()} == dict.fromkeys(INCREMENTAL, "incremental")
    assert {n: w["built"] for n, w in _watermarks(full).items()} == dict.fromkeys(INCREMENTAL, "full")
    con = duckdb.connect(str(inc), read_only=True)
    try:
        con.execute(f"ATTACH '{full}' AS f (READ_ONLY)")
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'bullseye' "
                             "AND schema_name IN ('staging', 'intermediate', 'marts') ORDER BY ALL").fetchall()
        assert len(tables) > 80
        differ = []
        for schema, table in tables:
            name = f"{schema}.{table}"
            a = con.execute(f"SELECT count(*) FROM (FROM bullseye.{name} EXCEPT ALL FROM f.{name})").fetchall()[0][0]
            b = con.execute(f"SELECT count(*) FROM (FROM f.{name} EXCEPT ALL FROM bullseye.{name})").fetchall()[0][0]
            if a or b:
                differ.append((name, a, b))
        assert differ == []
    finally:
        con.close()
    assert any("--full-refresh asked for it" in n for n in _notes(full, "2026-11-25"))
    assert not any("rebuilt in full" in n for n in _notes(inc, "2026-11-25"))


def test_corrections_replace_and_late_rows_join(nights):
    wh = nights["home"] / "warehouse" / "bullseye.duckdb"
    assert db_rows(wh, "SELECT order_id, is_refunded, order_date::VARCHAR FROM staging.stg_sales__orders "
                     "WHERE order_id IN ('o2', 'o5') ORDER BY 1") == [("o2", True, "2026-03-01"),
                                                                     ("o5", False, "2026-11-22")]
    assert db_rows(wh, "SELECT event_id, event_type FROM staging.stg_web__events ORDER BY 1") == [
        ("e1", "page_view"), ("e2", "signup"), ("e4", "product_view")]  # e3 lies after the run date
    assert db_rows(wh, "SELECT source_customer_id, email FROM staging.stg_crm__customers ORDER BY 1") == [
        ("c1", "zhang.wei@example.com"), ("c2", None), ("c3", "wf@example.com"), ("c4", None)]
    assert db_rows(wh, "SELECT order_id, unit_cost FROM intermediate.int_order_lines__enriched "
                     "WHERE order_id IN ('o3', 'o5') ORDER BY 1") == [("o3", 200), ("o5", 700)]
    # the late order reached the customer's RFM that night
    assert db_rows(wh, "SELECT r.frequency, r.last_order_date::VARCHAR FROM marts.customer_rfm r "
                     "JOIN marts.fct_orders o USING (customer_id) WHERE o.order_id = 'o5'") == [(2, "2026-11-22")]


def test_a_future_event_arrives_on_its_night_and_a_backfill_rebuilds_on_its_copy(nights):
    land, home = nights["land"], nights["home"]
    wh = home / "warehouse" / "bullseye.duckdb"
    _run(land, home, "2026-11-27")  # no new delivery; 11-26 skipped
    assert db_rows(wh, "SELECT event_id FROM staging.stg_web__events WHERE event_id = 'e3'") == [("e3",)]
    assert _watermarks(wh)["staging.stg_web__events"]["built"] == "incremental"
    _run(land, home, "2026-11-26")  # a backfill: 11-27 is committed
    kept = home / "backfills" / "2026-11-26" / "bullseye.duckdb"
    assert kept.exists()
    assert {n: (w["built"], w["as_of"]) for n, w in _watermarks(kept).items()} == \
        dict.fromkeys(INCREMENTAL, ("full", "2026-11-26"))
    # e3 (dated 11-27) is in the committed warehouse's stg_web__events, not in the backfill's
    assert db_rows(kept, "SELECT event_id FROM staging.stg_web__events ORDER BY 1") == [("e1",), ("e2",), ("e4",)]
    assert db_rows(kept, "SELECT count(*) FROM staging.stg_sales__orders") == [(5,)]
    assert db_rows(kept, "SELECT count(*) FROM staging.stg_crm__customers") == [(4,)]
    notes = _notes(kept, "2026-11-26", "backfill")
    assert any("a backfill: the table held nights up to 2026-11-27" in n for n in notes), notes
    # the committed warehouse is untouched by the backfill
    assert {w["as_of"] for w in _watermarks(wh).values()} == {"2026-11-27"}


def test_changed_code_rebuilds_in_full(nights):
    land, home = nights["land"], nights["full"]
    wh = home / "warehouse" / "bullseye.duckdb"
    con = duckdb.connect(str(wh))
    try:
        w = incremental_watermarks(con)["staging.stg_web__events"]
        w["code"] = "an older model:" + w["code"].split(":")[-1]
        con.execute(f"COMMENT ON TABLE staging.stg_web__events IS '{json.dumps({'bullseye_watermark': w})}'")
    finally:
        con.close()
    _run(land, home, "2026-11-27")
    built = {n: w["built"] for n, w in _watermarks(wh).items()}
    assert built == {**dict.fromkeys(INCREMENTAL, "incremental"), "staging.stg_web__events": "full"}
    assert ("incremental models rebuilt in full (its SQL or the normalizers (bz_rules_version) changed since its "
            "last build): stg_web__events") in _notes(wh, "2026-11-27")


def test_notes_say_nothing_on_a_first_night_and_name_each_reason():
    after = {"staging.a": {"built": "full", "as_of": "2026-11-24", "code": "x"},
             "staging.b": {"built": "incremental", "as_of": "2026-11-24", "code": "x"}}
    assert incremental_notes({}, after, "2026-11-24", asked=False, first_night=True) == []
    assert incremental_notes({}, after, "2026-11-24", asked=True, first_night=True) == [
        "incremental models rebuilt in full (--full-refresh asked for it): a"]
    assert incremental_notes({}, after, "2026-11-24", asked=False, first_night=False) == [
        "incremental models rebuilt in full (it had no watermark (a table from before incremental models)): a"]
