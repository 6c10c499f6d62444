"""bullseye.demo.next_day: one more day of deliveries on a demo landing zone (bench night --incremental).

Why the answers are right: the issue's day per million members is 30,000 orders, 500,000 events and 5,000 new
CRM records, so a landing zone of N CRM records gets round(30,000 * N / 1e6) orders (and so on, capped by what
exists to copy); the loader must take every new file without a quarantined row (they are written from rows it
loaded before); the old files are the same inodes (hard links), and the same seed writes the same bytes.
"""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb

from bullseye.demo.next_day import PER_MILLION, write_next_day
from bullseye.ingest import ensure_schema, load_landing

DAY = date(2026, 11, 24)


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_more_day_loads_clean_and_is_the_same_for_the_same_seed(demo_landing, tmp_path):
    day = write_next_day(demo_landing, tmp_path / "next", DAY)
    con = duckdb.connect()
    people = con.execute(f"SELECT count(*) FROM read_csv('{demo_landing}/crm_customers/*.csv', "
                         "union_by_name = true, all_varchar = true)").fetchall()[0][0]
    con.close()
    assert day.orders == round(PER_MILLION["orders"] * people / 1e6)
    assert day.crm_customers == round(PER_MILLION["crm_customers"] * people / 1e6)
    assert 0.9 * round(PER_MILLION["events"] * people / 1e6) <= day.events <= round(PER_MILLION["events"] * people
                                                                                       / 1e6)
    old = demo_landing / "orders" / "orders_2026.csv"
    assert (tmp_path / "next" / "orders" / "orders_2026.csv").stat().st_ino == old.stat().st_ino

    db = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        ensure_schema(db)
        load_landing(db, day.landing, "bench")
        new = db.execute("""SELECT source, rows_in, rows_loaded, rows_quarantined FROM meta.load_ledger
                            WHERE path LIKE '%20261124%' ORDER BY source""").fetchall()
        on_the_day = db.execute("SELECT count(*) FROM raw.orders WHERE order_ts::DATE = ?", [DAY]).fetchall()[0][0]
    finally:
        db.close()
    assert [(s, q) for s, _, _, q in new] == [("crm_customers", 0), ("events", 0), ("order_lines", 0), ("orders", 0)]
    assert {s: n for s, n, _, _ in new} == {"crm_customers": day.crm_customers, "events": day.events,
                                            "order_lines": day.orders, "orders": day.orders}
    assert on_the_day == day.orders
    again = write_next_day(demo_landing, tmp_path / "again", DAY)
    assert again.orders == day.orders and _digest(tmp_path / "again") == _digest(tmp_path / "next")
