"""One more day of deliveries on top of a demo landing zone, for the incremental night of ``bench night``.

A chain's day, per million members (issue 18): about 30,000 orders, 500,000 web and app events and 5,000 new
CRM records. This writes that much, scaled to the landing zone's people, as new files in a copy of the landing
zone (hard links to the existing files, so the copy costs no space), dated ``day``:

- ``orders/orders_<day>.csv`` and ``order_lines/order_lines_<day>.csv``: existing customers chosen by a hash
  of their id and the seed, each buying one existing product at its list price, at the store they bought at;
- ``events/events_<day>.jsonl``: existing events, re-dated into the day with new event ids;
- ``crm_customers/new_<day>.csv``: new members copied from existing store records with new ids and phones
  (``199`` and a running number) and without email, card or ID number; they keep the name, birth date and
  address they were copied from, so identity resolution may join some of them to the person copied.

Everything is chosen by hashes in DuckDB (no Python loop over rows), so the same seed writes the same files and
scale 100 stays within memory. The main generator (bullseye.demo.generator) is not touched: it writes a world
up to its end date; this adds deliveries after it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from bullseye.warehouse import apply_limits

PER_MILLION = {"orders": 30_000, "events": 500_000, "crm_customers": 5_000}


@dataclass
class NextDay:
    landing: Path
    day: date
    orders: int
    events: int
    crm_customers: int


def _link_copy(src: Path, dst: Path) -> None:
    """dst becomes a copy of src made of hard links (falls back to copies across file systems)."""
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _csv(files: list[Path]) -> str:
    """SQL reading demo CSV files as text. The demo plants broken lines (an unbalanced quote, an extra field)
    that defeat DuckDB's dialect sniffer, so the dialect is given: the header names the columns (the same in
    every file), every value is text, and broken lines are skipped."""
    headers = {f.open(encoding="utf-8-sig").readline().strip() for f in files}
    if len(headers) != 1:
        raise ValueError(f"demo files with different headers: {[str(f) for f in files]}")
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in headers.pop().split(",")) + "}"
    return (f"read_csv({[str(f) for f in files]}, auto_detect = false, header = true, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {columns}, ignore_errors = true, null_padding = true)")


def write_next_day(landing: Path, out: Path, day: date, seed: int = 42) -> NextDay:
    """Copy ``landing`` to ``out`` (hard links) and add one day of deliveries dated ``day``."""
    if out.exists():
        shutil.rmtree(out)
    _link_copy(landing, out)
    tag = day.strftime("%Y%m%d")
    con = apply_limits(duckdb.connect())
    try:
        crm = sorted((landing / "crm_customers").glob("*.csv"))
        people = sum(sum(1 for _ in f.open("rb")) - 1 for f in crm)  # CRM records (lines after the header)
        n = {k: max(1, round(v * people / 1_000_000)) for k, v in PER_MILLION.items()}
        orders_csv = _csv(sorted((landing / "orders").glob("*.csv")))
        lines_csv = _csv(sorted((landing / "order_lines").glob("*.csv")))
        con.execute(f"""CREATE TEMP TABLE buyers AS
            SELECT source_system, source_customer_id, min(store_id) AS store_id,
                   min(channel) AS channel, hash(source_system || source_customer_id || '{seed}') AS h
            FROM {orders_csv}
            WHERE source_customer_id IS NOT NULL GROUP BY source_system, source_customer_id
            ORDER BY h, source_customer_id LIMIT {n['orders']}""")
        con.execute(f"""CREATE TEMP TABLE skus AS
            SELECT sku, min(category) AS category, min(unit_price) AS unit_price,
                   min(unit_cost) AS unit_cost, row_number() OVER (ORDER BY sku) - 1 AS i
            FROM {lines_csv}
            WHERE sku IS NOT NULL AND try_cast(unit_price AS DOUBLE) > 0 GROUP BY sku""")
        con.execute(f"""CREATE TEMP TABLE day_orders AS
            SELECT 'N{tag}-' || lpad(row_number() OVER (ORDER BY b.h, b.source_customer_id)::VARCHAR, 7, '0')
                       AS order_id, b.*,
                   s.sku, s.category, s.unit_price, s.unit_cost,
                   strftime(DATE '{day}' + to_seconds((b.h % 86400)::BIGINT), '%Y-%m-%d %H:%M:%S') AS order_ts
            FROM buyers b JOIN skus s ON s.i = b.h % (SELECT count(*) FROM skus)""")
        con.execute(f"""COPY (SELECT order_id, source_system, source_customer_id, order_ts, unit_price AS amount,
                store_id, channel, 0.0 AS discount_amount, NULL AS coupon_code, 'paid' AS status
            FROM day_orders ORDER BY order_id) TO {_q(out / 'orders' / f'orders_{tag}.csv')} (HEADER)""")
        con.execute(f"""COPY (SELECT order_id, 1 AS line_no, sku, category, 1 AS quantity, unit_price,
                unit_price AS amount, unit_cost FROM day_orders ORDER BY order_id)
            TO {_q(out / 'order_lines' / f'order_lines_{tag}.csv')} (HEADER)""")
        events = sorted((landing / "events").glob("*.jsonl"))
        # the day's events: the top N by a hash of the id (a Top-N, not a sort of every event), then numbered
        con.execute(f"""COPY (SELECT * EXCLUDE (__h) REPLACE (
                'ev-{tag}-' || lpad(row_number() OVER (ORDER BY __h, event_id)::VARCHAR, 9, '0') AS event_id,
                strftime(DATE '{day}' + to_seconds((__h % 86400)::BIGINT), '%Y-%m-%dT%H:%M:%S+08:00') AS event_ts)
            FROM (SELECT *, hash(event_id || '{seed}') AS __h
                  FROM read_json({[str(p) for p in events]}, format = 'newline_delimited', ignore_errors = true)
                  WHERE event_id IS NOT NULL ORDER BY __h, event_id LIMIT {n['events']})
            ORDER BY __h, event_id)
            TO {_q(out / 'events' / f'events_{tag}.jsonl')} (FORMAT json)""")
        store = landing / "crm_customers" / "store_pos.csv"
        con.execute(f"""COPY (SELECT * EXCLUDE (__h) REPLACE (
                'NEW{tag}-' || lpad(row_number() OVER (ORDER BY __h, source_customer_id)::VARCHAR, 7, '0')
                    AS source_customer_id,
                '199' || lpad(row_number() OVER (ORDER BY __h, source_customer_id)::VARCHAR, 8, '0') AS phone,
                NULL AS email, NULL AS wechat_unionid, NULL AS member_card_no, NULL AS id_card_no,
                strftime(DATE '{day}' + INTERVAL 10 HOUR, '%Y-%m-%d %H:%M:%S') AS joined_at,
                strftime(DATE '{day}' + INTERVAL 10 HOUR, '%Y-%m-%dT%H:%M:%S+08:00') AS updated_at)
            FROM (SELECT *, hash(source_customer_id || '{seed}') AS __h
                  FROM {_csv([store])}
                  ORDER BY __h, source_customer_id LIMIT {n['crm_customers']})
            ORDER BY __h, source_customer_id)
            TO {_q(out / 'crm_customers' / f'new_{tag}.csv')} (HEADER)""")
        written = {
            "orders": f"read_csv({_q(out / 'orders' / f'orders_{tag}.csv')})",
            "events": f"read_json({_q(out / 'events' / f'events_{tag}.jsonl')}, format = 'newline_delimited')",
            "crm_customers": f"read_csv({_q(out / 'crm_customers' / f'new_{tag}.csv')})"}
        counts = {k: con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0] for k, src in written.items()}
    finally:
        con.close()
    return NextDay(out, day, counts["orders"], counts["events"], counts["crm_customers"])
