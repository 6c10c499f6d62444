"""Issue 13 cases 1 and 4 on the ingest side: opt-outs written as text, and ID-card numbers
hashed at load (never stored in clear, the salt never rendered into dbt's files or logs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from bullseye.ingest import ensure_schema, load_landing
from tests.conftest import MINIMAL_CRM, MINIMAL_ORDERS, q, write

ID_A = "440106198507150032"
ID_B = "11010519491231002X"
SALT = "pepper-9f3c1e-test-only"


def tables_containing(con: duckdb.DuckDBPyConnection, needle: str) -> list[str]:
    """Every table (any schema) with a row whose text (all columns) contains ``needle``."""
    found = []
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                     "WHERE NOT temporary ORDER BY ALL").fetchall():
        sql = f'SELECT count(*) FROM "{schema}"."{table}" t WHERE contains(CAST(t AS VARCHAR), ?)'
        if con.execute(sql, [needle]).fetchall()[0][0]:
            found.append(f"{schema}.{table}")
    return found


# --- case 1: opt-out written as text ---------------------------------------------------------

YES = ["退订", "unsubscribed", "T", "TD", "是", "Y", "yes", "1", "true", " td "]
NO = ["N", "no", "否", "0", "false"]


def test_opt_out_and_complaint_spellings_are_read_and_an_unreadable_one_holds_the_row(tmp_path, con):
    rows = ["contact_id,campaign_id,channel,sent_at,phone,delivered,opt_out,complaint"]
    rows += [f"y{i},c,sms,2026-05-01,1380013800{i % 10},1,{v},{v}" for i, v in enumerate(YES)]
    rows += [f"n{i},c,sms,2026-05-01,1390013800{i},1,{v},{v}" for i, v in enumerate(NO)]
    rows += ["e1,c,sms,2026-05-01,13700001111,1,,",          # empty: no value
             "u1,c,sms,2026-05-01,13700002222,1,maybe,",     # opt_out unreadable: held
             "u2,c,sms,2026-05-01,13700003333,1,N,??",       # complaint unreadable: held
             "d1,c,sms,2026-05-01,13700004444,sent,N,N"]     # delivered unreadable: value dropped only
    land = tmp_path / "land"
    write(land / "contacts" / "c.csv", "\n".join(rows) + "\n")
    report = load_landing(con, land, "t")
    got = dict((cid, (o, c)) for cid, o, c in q(con, "SELECT contact_id, opt_out, complaint FROM raw.contacts"))
    assert {f"y{i}" for i in range(len(YES))} <= set(got)
    assert all(got[f"y{i}"] == (True, True) for i in range(len(YES))), got
    assert all(got[f"n{i}"] == (False, False) for i in range(len(NO))), got
    assert got["e1"] == (None, None)
    assert got["d1"] == (False, False)
    assert "u1" not in got and "u2" not in got
    held = q(con, """SELECT line, column_name, value, action FROM meta.quarantine
                     WHERE action = 'row_held' ORDER BY line""")
    assert [(c, v, a) for _, c, v, a in held] == [("opt_out", "maybe", "row_held"), ("complaint", "??", "row_held")]
    dropped = q(con, "SELECT column_name, value, action FROM meta.quarantine WHERE action <> 'row_held'")
    assert dropped == [("delivered", "sent", "value_dropped")]
    assert report.deliveries[0].rows_quarantined == 2


# --- case 4: ID-card numbers ---------------------------------------------------------------------

def test_id_numbers_are_hashed_at_load_and_stored_nowhere_in_clear(tmp_path, con, monkeypatch):
    from bullseye.ingest.privacy import hash_id_card

    monkeypatch.setenv("BULLSEYE_ID_SALT", SALT)
    land = tmp_path / "land"
    spaced = f"{ID_B[:6]} {ID_B[6:14]} {ID_B[14:-1]}x"  # spaces and a lower-case check letter
    write(land / "crm_customers" / "a.csv",
          "source_customer_id,name,phone,id_card_no\n"
          f"c1,张伟,13800138001,{ID_A}\n"
          f"c2,李娜,13900001111,{spaced}\n"
          f"c3,王芳,13700001111,{ID_B}\n"
          f"c4,赵敏,13700002222,{ID_A},extra,fields\n"   # a broken row: held with its text
          "c5,钱多,13700003333,\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    write(land / "crm_customers" / "bad.csv", f"source_customer_id,id_card_no\nz1,{ID_B}\n", encoding="utf-16")
    load_landing(con, land, "t")
    cols = [r[0] for r in q(con, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
                                 "AND table_name = 'crm_customers'")]
    assert "id_card_no" not in cols and "id_card_hash" in cols
    hashes = dict(q(con, "SELECT source_customer_id, id_card_hash FROM raw.crm_customers"))
    assert hashes["c1"] == hash_id_card(ID_A, SALT)
    assert hashes["c2"] == hashes["c3"] == hash_id_card(ID_B, SALT)  # normalized before hashing
    assert hashes["c5"] is None
    assert len(hashes["c1"]) == 64
    held = q(con, "SELECT record FROM meta.quarantine WHERE path = 'crm_customers/a.csv'")
    assert held and hash_id_card(ID_A, SALT) in held[0][0]
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE path = 'crm_customers/bad.csv'") != [(0,)]
    for needle in (ID_A, ID_B, ID_B[:-1], SALT):
        assert tables_containing(con, needle) == [], needle


def test_a_warehouse_loaded_before_the_change_is_hashed_in_place(tmp_path, monkeypatch):
    from bullseye.ingest.privacy import hash_id_card

    monkeypatch.setenv("BULLSEYE_ID_SALT", SALT)
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA meta")
    con.execute("CREATE TABLE raw.crm_customers (source_system VARCHAR, source_customer_id VARCHAR, "
                "id_card_no VARCHAR, _extra VARCHAR, _delivery_id BIGINT, _line BIGINT)")
    con.execute("INSERT INTO raw.crm_customers VALUES ('pos', 'c1', ?, NULL, 1, 2), ('pos', 'c2', NULL, NULL, 1, 3)",
                [ID_A])
    con.execute("CREATE TABLE meta.quarantine (delivery_id BIGINT, source VARCHAR, path VARCHAR, line BIGINT, "
                "column_name VARCHAR, value VARCHAR, reason VARCHAR, action VARCHAR, record VARCHAR)")
    con.execute("INSERT INTO meta.quarantine VALUES (1, 'crm_customers', 'crm_customers/a.csv', 4, NULL, NULL, "
                "'row has 5 fields', 'row_held', ?), (1, 'crm_customers', 'crm_customers/a.csv', 5, 'phone', 'x', "
                "'r', 'row_held', ?)", [f"c9,赵敏,1370000,{ID_B},x", '{"id_card_no":"12345","phone":"x"}'])
    ensure_schema(con)
    assert q(con, "SELECT source_customer_id, id_card_hash FROM raw.crm_customers ORDER BY 1") == [
        ("c1", hash_id_card(ID_A, SALT)), ("c2", None)]
    assert "id_card_no" not in [r[0] for r in q(con, "DESCRIBE raw.crm_customers")]
    records = [r[0] for r in q(con, "SELECT record FROM meta.quarantine ORDER BY line")]
    assert hash_id_card(ID_B, SALT) in records[0]
    assert '"id_card_hash": "' + hash_id_card("12345", SALT) + '"' in records[1]
    for needle in (ID_A, ID_B, "12345"):
        assert tables_containing(con, needle) == [], needle
    ensure_schema(con)  # a second time changes nothing
    assert q(con, "SELECT count(*) FROM raw.crm_customers WHERE id_card_hash IS NOT NULL") == [(1,)]
    con.close()


def test_python_and_sql_hashes_agree():
    from bullseye.ingest.privacy import NORMALIZE_SQL, hash_id_card, normalize_id_card

    con = duckdb.connect()
    wide = "１１０１０５１９４９１２３１００２ｘ"  # full-width digits and check letter
    for raw in [ID_A, " 440106-19850715-0032 ", wide, "11010519491231002x", "   ", "a b"]:
        sql = con.execute(f"SELECT {NORMALIZE_SQL.format(x='?')}", [raw]).fetchall()[0][0]
        assert sql == normalize_id_card(raw), raw
        if sql:
            assert con.execute("SELECT sha256(? || ?)", [SALT, sql]).fetchall()[0][0] == hash_id_card(raw, SALT)
    assert normalize_id_card(wide) == ID_B


def test_a_night_with_the_default_salt_says_so_in_its_summary(tmp_path, monkeypatch):
    from bullseye.activation.campaigns import load_policy
    from bullseye.config import DEFAULT_CAMPAIGNS, RunConfig
    from bullseye.pipeline import NightSummary, step_load

    shipped = load_policy(DEFAULT_CAMPAIGNS)
    monkeypatch.setattr("bullseye.pipeline.check_campaigns", lambda cfg: ([], shipped))  # no campaign plays a part
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    notes = {}
    for salt in ("", SALT):
        monkeypatch.setenv("BULLSEYE_ID_SALT", salt)
        home = tmp_path / f"home{bool(salt)}"
        cfg = RunConfig(landing=land, warehouse=home / "warehouse" / "bullseye.duckdb", as_of="2026-06-01",
                        home=home)
        summary = NightSummary(as_of="2026-06-01")
        step_load(cfg, summary)
        notes[bool(salt)] = summary.notes
    assert any("BULLSEYE_ID_SALT is not set" in n for n in notes[False])
    assert not any("BULLSEYE_ID_SALT" in n for n in notes[True])


# --- one night end to end: nothing anywhere holds the clear number or the salt --------------------

def test_after_a_night_neither_the_clear_id_nor_the_salt_is_anywhere(tmp_path, demo_landing, monkeypatch):
    from bullseye.cli import main

    monkeypatch.setenv("BULLSEYE_ID_SALT", SALT)
    land = tmp_path / "land"
    shutil.copytree(demo_landing, land)
    # two records of one person in two systems, the number written two ways: one key
    write(land / "crm_customers" / "zz_privacy.csv",
          "source_system,source_customer_id,name,phone,id_card_no,joined_at\n"
          f"pos_a,P1,冯静,13612345001,{ID_A},2024-01-01\n"
          f"pos_b,P2,冯小静,13612345999,{ID_A[:6]} {ID_A[6:]},2024-01-01\n"
          f"pos_b,P3,冯静,13612345001,{ID_A},extra,2024-01-01\n")  # broken row: quarantined
    home = tmp_path / "home"
    assert main(["run", "--landing", str(land), "--as-of", "2026-11-24", "--home", str(home)]) == 0
    for db in (home / "warehouse" / "bullseye.duckdb", home / "published" / "bullseye.duckdb"):
        con = duckdb.connect(str(db), read_only=True)
        try:
            for needle in (ID_A, SALT):
                assert tables_containing(con, needle) == [], (db, needle)
            if db.parent.name == "warehouse":
                ids = q(con, """SELECT DISTINCT customer_id FROM marts.customer_identity_map
                    WHERE source = 'crm_customers' AND source_record_id IN ('pos_a:P1', 'pos_b:P2')""")
                assert len(ids) == 1  # the hashed number still links the two records
                assert q(con, "SELECT count(*) FROM meta.quarantine WHERE path = 'crm_customers/zz_privacy.csv'") \
                    == [(1,)]
        finally:
            con.close()
    leaks = []
    for f in Path(home).rglob("*"):
        if f.is_file() and not f.name.endswith((".duckdb", ".wal")):
            data = f.read_bytes()
            leaks += [f"{f}: {n}" for n in (ID_A, SALT) if n.encode() in data]
    assert leaks == []
    assert (home / "dbt_target").is_dir() and (home / "logs").is_dir()
