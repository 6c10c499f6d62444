"""Loader behaviour on hand-made landing zones whose right answer is known."""

from __future__ import annotations

import json

from bullseye.ingest import load_landing
from tests.conftest import MINIMAL_CRM, MINIMAL_ORDERS, q, write


def test_minimal_landing_loads_and_parses_dates(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    assert [d.outcome for d in report.deliveries] == ["loaded", "loaded"]
    assert q(con, "SELECT order_id, CAST(order_ts AS DATE)::VARCHAR, amount::DOUBLE FROM raw.orders ORDER BY 1") == [
        ("o1", "2026-01-05", 120.5), ("o2", "2026-03-01", 80.0), ("o3", "2026-04-01", 300.0)]


def test_rerun_loads_nothing_twice(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    load_landing(con, land, "night1")
    again = load_landing(con, land, "night1-retry")
    assert {d.outcome for d in again.deliveries} == {"skipped_duplicate"}
    assert q(con, "SELECT count(*) FROM raw.orders") == [(3,)]
    write(land / "orders" / "o2.csv", "order_id,source_customer_id,order_ts,amount\no9,c2,2026-05-01,10\n")
    third = load_landing(con, land, "night2")
    assert [d.outcome for d in third.new_deliveries] == ["loaded"]
    assert q(con, "SELECT count(*) FROM raw.orders") == [(4,)]
    assert q(con, "SELECT count(*) FROM meta.load_ledger") == [(3,)]


def test_broken_row_is_quarantined_with_its_line_and_the_rest_loads(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv",
          "source_customer_id,name,phone\nc1,张伟,13800138001\nc2,李娜,139,extra,fields\nc3,王芳,13700001111\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    crm = report.deliveries[0]
    assert (crm.outcome, crm.rows_in, crm.rows_loaded, crm.rows_quarantined) == ("loaded_with_issues", 3, 2, 1)
    rows = q(con, "SELECT path, line, reason, action, record FROM meta.quarantine")
    assert rows == [("crm_customers/a.csv", 3, "row has 5 fields, header has 3", "row_held",
                     "c2,李娜,139,extra,fields")]
    assert q(con, "SELECT source_customer_id FROM raw.crm_customers ORDER BY 1") == [("c1",), ("c3",)]


def test_undeclared_gb18030_file_is_detected_and_read(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "gbk.csv", "source_customer_id,name,city\nc1,陳偉,廣州\nc2,张丽华,深圳\n",
          encoding="gb18030")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    assert report.deliveries[0].encoding == "gb18030 (detected)"
    assert q(con, "SELECT name, city FROM raw.crm_customers ORDER BY source_customer_id") == [
        ("陳偉", "廣州"), ("张丽华", "深圳")]


def test_list_manifest_declares_encoding_and_terms(tmp_path, con):
    land = tmp_path / "land"
    write(land / "lists" / "fair" / "manifest.json", json.dumps({
        "list_id": "fair", "vendor": "展会", "acquired_at": "2026-05-01", "legal_basis": "consent at fair",
        "permitted_channels": ["sms"], "expires_at": "2026-12-31", "encoding": "gbk"}, ensure_ascii=False))
    write(land / "lists" / "fair" / "r.csv", "list_record_id,name,phone\nr1,刘洋,13912345678\n", encoding="gbk")
    report = load_landing(con, land, "t")
    assert report.deliveries[0].encoding == "gb18030 (declared)"
    assert q(con, "SELECT list_id, name FROM raw.lists") == [("fair", "刘洋")]
    assert q(con, "SELECT permitted_channels, expires_at::VARCHAR FROM raw.list_manifests") == [(["sms"], "2026-12-31")]


def test_a_list_file_added_on_a_later_night_loads_under_the_same_manifest(tmp_path, con):
    # Regression: the second delivery found its manifest already stored, and a half-read
    # query result left on the connection made DuckDB refuse the file's rows.
    land = tmp_path / "land"
    write(land / "lists" / "fair" / "manifest.json", json.dumps({
        "list_id": "fair", "vendor": "展会", "acquired_at": "2026-05-01", "legal_basis": "consent at fair",
        "permitted_channels": ["sms"], "expires_at": "2026-12-31"}, ensure_ascii=False))
    write(land / "lists" / "fair" / "r1.csv", "list_record_id,name,phone\nr1,刘洋,13912345678\n")
    load_landing(con, land, "night1")
    write(land / "lists" / "fair" / "r2.csv", "list_record_id,name,phone,annual_budget\nr2,王芳,13987654321,8000\n")
    second = load_landing(con, land, "night2")
    assert [d.outcome for d in second.new_deliveries] == ["loaded"]
    assert q(con, "SELECT list_record_id FROM raw.lists ORDER BY 1") == [("r1",), ("r2",)]
    assert q(con, "SELECT count(*) FROM raw.list_manifests") == [(1,)]


def test_list_larger_than_one_batch_loads_every_row(tmp_path, con, monkeypatch):
    # Regression: tagging rows with list_id once broke every later batch of the same file.
    from bullseye.ingest import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    land = tmp_path / "land"
    write(land / "lists" / "big" / "manifest.json", json.dumps({
        "list_id": "big", "vendor": "v", "acquired_at": "2026-05-01", "legal_basis": "opt-in",
        "permitted_channels": ["sms"], "expires_at": "2026-12-31"}))
    write(land / "lists" / "big" / "r.csv", "list_record_id,name,phone\n"
          + "".join(f"r{i},刘洋{i},1391234567{i}\n" for i in range(5)))
    load_landing(con, land, "t")
    assert q(con, "SELECT count(*), count(DISTINCT list_id) FROM raw.lists") == [(5, 1)]


def test_list_without_legal_basis_is_held_back(tmp_path, con):
    land = tmp_path / "land"
    write(land / "lists" / "shady" / "manifest.json", json.dumps({"list_id": "shady", "vendor": "x",
                                                                 "acquired_at": "2026-01-01"}))
    write(land / "lists" / "shady" / "r.csv", "list_record_id,name\nr1,a\nr2,b\n")
    report = load_landing(con, land, "t")
    assert report.deliveries[0].rows_quarantined == 2
    assert report.deliveries[0].outcome == "rejected"
    assert "legal_basis" in q(con, "SELECT DISTINCT reason FROM meta.quarantine")[0][0]


def test_missing_required_column_rejects_the_file_but_not_the_night(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "bad.csv", "order_id,source_customer_id,amount\no1,c1,10\no2,c2,20\n")
    write(land / "orders" / "good.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    by_path = {d.path: d for d in report.deliveries}
    bad = by_path["orders/bad.csv"]
    assert (bad.outcome, bad.rows_in, bad.rows_quarantined) == ("rejected", 2, 2)
    assert "missing required column(s): order_ts" in bad.message
    assert by_path["orders/good.csv"].rows_loaded == 3
    held = q(con, "SELECT line, record FROM meta.quarantine WHERE path = 'orders/bad.csv' ORDER BY line")
    assert [h[0] for h in held] == [2, 3] and json.loads(held[0][1])["order_id"] == "o1"


def test_unreadable_dates_optional_value_dropped_required_row_held(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv",
          "source_customer_id,name,birth_date\nc1,张伟,1990-02-30\nc2,李娜,1997年1月31日\nc3,王芳,19850607\n")
    write(land / "orders" / "o.csv", "order_id,source_customer_id,order_ts,amount\n"
                                     "o1,c1,2026-13-45,10\no2,c2,2026-02-01T10:00:00+08:00,20\n")
    report = load_landing(con, land, "t")
    assert q(con, "SELECT source_customer_id, birth_date::VARCHAR FROM raw.crm_customers ORDER BY 1") == [
        ("c1", None), ("c2", "1997-01-31"), ("c3", "1985-06-07")]
    assert q(con, "SELECT line, column_name, value, reason, action FROM meta.quarantine ORDER BY path") == [
        (2, "birth_date", "1990-02-30", "unreadable date", "value_dropped"),
        (2, "order_ts", "2026-13-45", "unreadable ts", "row_held")]
    assert q(con, "SELECT order_id, order_ts::VARCHAR FROM raw.orders") == [("o2", "2026-02-01 10:00:00")]
    assert report.deliveries[0].values_quarantined == 1


def test_an_unreadable_lunar_birthday_is_dropped_and_reported_with_its_line(tmp_path, con):
    """lunar_birthday is an optional extra column: c1's 八月十五 and c2's 闰四月初十 read (bullseye.normalize), c3 gave
    none (no issue), c4's 十三月初一 names no lunar month (there are 12): like an unreadable birth date, the row
    loads and the quarantine names the value with its line (5: the header is line 1, c4 the fourth row), so
    the clerk can fix it instead of the customer silently getting no greeting."""
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", "source_customer_id,name,lunar_birthday\n"
          "c1,张伟,八月十五\nc2,李娜,闰四月初十\nc3,王芳,\nc4,赵敏,十三月初一\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    assert q(con, "SELECT count(*) FROM raw.crm_customers") == [(4,)]
    assert q(con, "SELECT line, column_name, value, action FROM meta.quarantine") == [
        (5, "lunar_birthday", "十三月初一", "value_dropped")]
    assert "unreadable lunar birthday" in q(con, "SELECT reason FROM meta.quarantine")[0][0]
    assert report.deliveries[0].values_quarantined == 1


def test_unknown_columns_are_kept(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", "source_customer_id,vip_level\nc1,gold\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    load_landing(con, land, "t")
    assert json.loads(q(con, "SELECT _extra FROM raw.crm_customers")[0][0]) == {"vip_level": "gold"}


def test_every_demo_row_is_accounted_for(demo_landing, con):
    report = load_landing(con, demo_landing, "t")
    assert report.total("rows_in") == report.total("rows_loaded") + report.total("rows_quarantined")
    loaded = sum(q(con, f"SELECT count(*) FROM raw.{s}")[0][0] for s in
                 ["crm_customers", "orders", "order_lines", "events", "lists", "contacts", "service", "consents",
                  "stores", "store_targets"])
    held = q(con, "SELECT count(DISTINCT (path, line)) FROM meta.quarantine WHERE action = 'row_held'")[0][0]
    assert loaded == report.total("rows_loaded")
    assert held == report.total("rows_quarantined") > 0
    # every planted broken row is in the quarantine with its line
    # (the cut line `store_pos,S999902,"周敏` opens a quote it never closes, and is named for that)
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE reason LIKE 'row has % fields%'")[0][0] == 1
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE reason LIKE 'unbalanced quote%'")[0][0] == 1
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE reason LIKE 'invalid JSON%'")[0][0] == 1
