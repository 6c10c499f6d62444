"""``bullseye subject-access``: everything stored about one person, as one JSON file (PIPL Art. 45)."""

from __future__ import annotations

import json

import duckdb

from bullseye.cli import main
from tests.privacy_kit import committed_night


def _a_buyer_from_a_list_on_a_target_list(warehouse) -> tuple[str, str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("""
            SELECT d.customer_id, d.email FROM marts.dim_customer d
            WHERE d.email IS NOT NULL AND d.is_on_purchased_list AND d.is_customer
              AND d.customer_id IN (SELECT customer_id FROM marts.target_lists)
              AND (SELECT count(DISTINCT customer_id) FROM marts.dim_customer o WHERE o.email = d.email) = 1
            ORDER BY d.customer_id LIMIT 1""").fetchall()[0]
    finally:
        con.close()


def test_subject_access_writes_every_kind_of_row_about_the_person(demo_night, tmp_path):
    home, _ = committed_night(demo_night)
    warehouse = home / "warehouse" / "bullseye.duckdb"
    cid, email = _a_buyer_from_a_list_on_a_target_list(warehouse)
    out = tmp_path / "access.json"
    assert main(["subject-access", "--email", email.upper(), "--home", str(home), "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    s = doc["sections"]

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        def ids(sql: str) -> list:
            return sorted(r[0] for r in con.execute(sql, [cid]).fetchall())

        records = ids("SELECT source_record_id FROM marts.customer_identity_map WHERE customer_id = ?")
        orders = ids("SELECT order_key FROM marts.fct_orders WHERE customer_id = ?")
        on_lists = ids("SELECT campaign_id FROM marts.target_lists WHERE customer_id = ?")
        list_ids = ids("""SELECT DISTINCT split_part(source_record_id, ':', 1) FROM marts.customer_identity_map
                          WHERE customer_id = ? AND source = 'lists'""")
        segments = con.execute("SELECT value_tier FROM marts.customer_segments WHERE customer_id = ?",
                               [cid]).fetchall()
    finally:
        con.close()
    assert doc["person"]["customer_ids"] == [cid]
    assert doc["request"]["looked_up_by"] == "email" and email not in json.dumps(doc["request"])
    assert sorted(r["source_record_id"] for r in s["identity_records"]["marts.customer_identity_map"]) == records
    assert [r["customer_id"] for r in s["golden_record"]["marts.dim_customer"]] == [cid]
    assert sorted(r["order_key"] for r in s["orders"]["marts.fct_orders"]) == orders and orders
    assert [r["value_tier"] for r in s["segments"]["marts.customer_segments"]] == [segments[0][0]]
    assert sorted(r["campaign_id"] for r in s["lists_they_were_on"]["marts.target_lists"]) == on_lists and on_lists
    assert sorted({r["list_id"] for r in s["list_memberships"]["raw.lists"]}) == list_ids and list_ids
    assert sorted(m["list_id"] for m in s["list_memberships"]["list_licences"]) == list_ids
    assert all(m["vendor"] and m["legal_basis"] for m in s["list_memberships"]["list_licences"])
    assert {"consents", "contacts", "other_stored_rows"} <= set(s)
    # Nobody else's rows: every row of the golden record and orders is the person's
    assert all(r["customer_id"] == cid for r in s["orders"]["marts.fct_orders"])


def test_an_unknown_person_gives_an_empty_file_not_someone_else(demo_night, tmp_path):
    home, _ = committed_night(demo_night)
    out = tmp_path / "nobody.json"
    assert main(["subject-access", "--phone", "13100000001", "--home", str(home), "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["person"]["customer_ids"] == []
    assert all(not rows for section in doc["sections"].values() for rows in section.values())
