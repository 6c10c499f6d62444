"""``bullseye forget`` end to end: a person forgotten by phone appears nowhere, and never comes back.

One demo night; the person is forgotten; then EVERY column of EVERY table of every DuckDB file
under the home (warehouse, publication), every export file and every other text file the run
wrote (logs, quality results, dbt artifacts) is searched for their phone (any written form),
email, customer_id and name with birth date. Then the same person is delivered again in a new
CRM file and the next night runs: still nowhere, and the quarantine holds the row with the reason
and without the values.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from bullseye import normalize
from bullseye.cli import main
from bullseye.privacy.forget_filter import REASON
from bullseye.privacy.keys import forget_key
from tests.conftest import DEMO_NIGHT, copy_home

NIGHT_1, NIGHT_2 = date.fromisoformat(DEMO_NIGHT), date(2026, 11, 25)


def _run(landing: Path, home: Path, as_of: date) -> None:
    assert main(["run", "--landing", str(landing), "--as-of", as_of.isoformat(), "--home", str(home)]) == 0


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_landing, demo_night):
    """A copy of the demo landing and of the shared demo night on it (NIGHT_1, tests.conftest.demo_night)."""
    base = tmp_path_factory.mktemp("forget")
    landing = base / "landing"
    shutil.copytree(demo_landing, landing)
    return landing, copy_home(demo_night, base / "home")


def pick_person(warehouse: Path) -> dict:
    """A customer on tonight's phone/sms export with an own phone, an email, a name and birth date, and orders."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute("""
            SELECT d.customer_id, d.phone, d.email, d.name, d.birth_date FROM marts.dim_customer d
            JOIN marts.target_lists t USING (customer_id)
            WHERE t.channel IN ('sms', 'phone') AND NOT t.is_holdout AND d.email IS NOT NULL
              AND d.birth_date IS NOT NULL AND d.name IS NOT NULL
              AND (SELECT count(DISTINCT customer_id) FROM intermediate.int_customer__key_owners k
                   WHERE k.key_type = 'phone' AND k.key_value = d.phone) = 1
              AND (SELECT count(DISTINCT customer_id) FROM marts.dim_customer o WHERE o.email = d.email) = 1
              AND EXISTS (SELECT 1 FROM marts.fct_orders o WHERE o.customer_id = d.customer_id)
              AND d.customer_id NOT IN (SELECT new_customer_id FROM identity.journal)
            ORDER BY d.customer_id LIMIT 1""").fetchall()[0]
    finally:
        con.close()
    cid, phone, email, name, birth = row
    return {"customer_id": cid, "phone": phone, "national": phone.removeprefix("+86"), "email": email.lower(),
            "name": name, "birth": birth}


# --- an independent search: what forget must have removed -------------------------------------------------------

def _row_hits(text: str, p: dict) -> list[str]:
    low = text.lower()
    hits = []
    if p["national"] in re.sub(r"\D", "", text):
        hits.append("phone")
    if p["email"] in low:
        hits.append("email")
    if p["customer_id"].lower() in low:
        hits.append("customer_id")
    if p["name"] in text and p["birth"].isoformat() in text:
        hits.append("name+birth_date")
    return hits


def search_database(path: Path, p: dict) -> list[str]:
    """Every row of every table, as text, searched per column (phone digits) and as a whole (name + birth date)."""
    con = duckdb.connect(str(path), read_only=True)
    found = []
    try:
        tables = con.execute("""SELECT schema_name, table_name FROM duckdb_tables()
                                WHERE database_name = current_database()""").fetchall()
        for schema, table in tables:
            cols = [r[0] for r in con.execute("""SELECT column_name FROM duckdb_columns()
                WHERE database_name = current_database() AND schema_name = ? AND table_name = ?""",
                                              [schema, table]).fetchall()]
            texts = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
            for values in con.execute(f'SELECT {texts} FROM "{schema}"."{table}"').fetchall():
                hits = set()
                for v in values:
                    if v is not None:
                        hits.update(h for h in _row_hits(v, p) if h != "name+birth_date")
                whole = " | ".join(v for v in values if v is not None)
                if p["name"] in values and p["birth"].isoformat() in whole:
                    hits.add("name+birth_date")
                if hits:
                    found.append(f"{path.name}:{schema}.{table}: {sorted(hits)}")
    finally:
        con.close()
    return found


def search_home(home: Path, p: dict) -> list[str]:
    """Every DuckDB file, Parquet file and text file under the home."""
    found = []
    for f in sorted(home.rglob("*")):
        if not f.is_file() or f.name.endswith(".lock"):
            continue
        if f.suffix == ".duckdb":
            found += search_database(f, p)
        elif f.suffix == ".parquet":
            for values in pd.read_parquet(f).astype(object).itertuples(index=False):
                row = [str(v) for v in values if v is not None and v == v]
                hits = {h for v in row for h in _row_hits(v, p) if h != "name+birth_date"}
                if p["name"] in row and p["birth"].isoformat() in " ".join(row):
                    hits.add("name+birth_date")
                if hits:
                    found.append(f"{f.relative_to(home)}: {sorted(hits)}")
        elif f.suffix == ".xlsx":  # every sheet of every workbook (the call sheets' and campaigns' copies)
            for ws in load_workbook(f, read_only=True).worksheets:
                for no, values in enumerate(ws.iter_rows(values_only=True), 1):
                    hits = _row_hits(" | ".join(str(v) for v in values if v is not None), p)
                    if hits:
                        found.append(f"{f.relative_to(home)}:{ws.title}:{no}: {hits}")
        elif f.suffix in (".csv", ".json", ".log", ".html", ".txt", ".sql", ".yml"):
            for no, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                hits = _row_hits(line, p)
                if hits:
                    found.append(f"{f.relative_to(home)}:{no}: {hits}")
    return found


# --- the test ------------------------------------------------------------------------------------------------------

def test_forget_by_phone_erases_everywhere_and_a_redelivery_is_held_back(world, monkeypatch):
    landing, home = world
    warehouse = home / "warehouse" / "bullseye.duckdb"
    p = pick_person(warehouse)
    before = search_home(home, p)
    assert any("warehouse" in f or "bullseye.duckdb" in f for f in before), "the search must see the person first"
    assert any(f.startswith("exports") for f in before), "and in an export file"
    assert any(f.startswith("exports") and ".xlsx:" in f for f in before), "and in an export workbook"

    written = f"{p['national'][:3]}-{p['national'][3:7]}-{p['national'][7:]}"  # 138-1234-5678
    assert main(["forget", "--phone", written, "--home", str(home)]) == 0
    assert search_home(home, p) == []

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        kinds = dict(con.execute("SELECT kind, count(*) FROM meta.forget_list GROUP BY 1").fetchall())
        keys = {r[0] for r in con.execute("SELECT key_hash FROM meta.forget_list").fetchall()}
        assert con.execute("SELECT looked_up_by, people FROM meta.forget_requests").fetchall() == [("phone", 1)]
    finally:
        con.close()
    assert kinds["phone"] >= 1 and kinds["email"] >= 1 and kinds["customer_id"] >= 1 and kinds["record"] >= 1
    assert forget_key("phone", p["phone"]) in keys and forget_key("email", p["email"]) in keys

    # The same person bought again: a new CRM delivery with their phone in another form, email and name.
    (landing / "crm_customers" / "bought_again.csv").write_text(
        "source_system,source_customer_id,name,birth_date,phone,email,city\n"
        f"fair_crm,F1,{p['name']},{p['birth']:%Y/%m/%d},+86 {p['national']},{p['email'].upper()},广州市\n"
        f"fair_crm,F2,{p['name']}x,1990-01-01,,someone.else.entirely@example.com,广州市\n", encoding="utf-8")
    _run(landing, home, NIGHT_2)
    assert search_home(home, p) == []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        held = con.execute("""SELECT q.line, q.value, q.record, q.reason, q.action FROM meta.quarantine q
            JOIN meta.load_ledger l USING (delivery_id) WHERE l.path LIKE '%bought_again.csv'""").fetchall()
        other = con.execute("""SELECT count(*) FROM raw.crm_customers WHERE source_customer_id = 'F2'""").fetchall()
    finally:
        con.close()
    assert held == [(2, None, None, REASON, "row_held")]
    assert other == [(1,)], "the other person of the same file is loaded"


def test_forget_key_reads_any_written_form_and_needs_the_salt():
    assert forget_key("phone", "+86 138-1234-5678") == forget_key("phone", "13812345678")
    assert forget_key("email", " Wang.Li@QQ.com ") == forget_key("email", "wang.li@qq.com")
    assert forget_key("phone", "13812345678", salt="a") != forget_key("phone", "13812345678", salt="b")
    assert "13812345678" not in forget_key("phone", "13812345678")
    assert forget_key("phone", "not a phone") is None


def test_a_phone_two_people_share_is_refused_with_what_to_do(tmp_path):
    from bullseye.privacy.person import PersonError, locate

    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA marts")
    con.execute("""CREATE TABLE intermediate.int_identity__keys AS SELECT * FROM (VALUES
        ('crm_customers', 'a:1', 'phone', '+8613812345678'), ('crm_customers', 'a:2', 'phone', '+8613812345678'))
        t(source, source_record_id, key_type, key_value)""")
    con.execute("""CREATE TABLE marts.customer_identity_map AS SELECT * FROM (VALUES
        ('crm_customers', 'a:1', 'C1'), ('crm_customers', 'a:2', 'C2')) t(source, source_record_id, customer_id)""")
    with pytest.raises(PersonError, match="belongs to 2 people.*--customer-id"):
        locate(con, "phone", "138 1234 5678")
    assert normalize.phone_e164("138 1234 5678") == "+8613812345678"
    con.close()


def test_forget_erases_only_the_person_not_lookalike_values(tmp_path):
    """An email inside another (li@qq.com in wangli@qq.com), a longer id (C1 in C12), a longer digit run
    and another system's record with the same number are someone else's: they stay."""
    from bullseye.privacy.forget import erase_rows
    from bullseye.privacy.person import Person

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA marts")
    con.execute("""CREATE TABLE raw.crm_customers AS SELECT * FROM (VALUES
        ('shop', 'S1', '李', '+86 138-1234-5678', 'li@qq.com'),
        ('shop', 'S12', '王', '213812345678', 'wangli@qq.com'),
        ('club', 'S1', '张', NULL, 'zhang@qq.com')) t(source_system, source_customer_id, name, phone, email)""")
    con.execute("""CREATE TABLE marts.target_lists AS SELECT * FROM (VALUES ('C1', 'a'), ('C12', 'b'), ('C2', 'c'))
                   t(customer_id, campaign_id)""")
    person = Person(lookup=("phone", "13812345678"), customer_ids={"C1"}, records={("crm_customers", "shop:S1")},
                    phones={"+8613812345678"}, emails={"li@qq.com"})
    erased, blanked = erase_rows(con, person)
    assert erased == {"raw.crm_customers": 1, "marts.target_lists": 1} and blanked == {}
    assert con.execute("SELECT source_system, source_customer_id FROM raw.crm_customers ORDER BY ALL").fetchall() == [
        ("club", "S1"), ("shop", "S12")]
    assert con.execute("SELECT customer_id FROM marts.target_lists ORDER BY 1").fetchall() == [("C12",), ("C2",)]
    con.close()


def test_forget_rewrites_every_sheet_of_a_campaign_workbook(tmp_path):
    """The campaign's workbook has one sheet per channel; the person (C1, phone 13812345678) is on the sms sheet
    and on the email sheet (by customer_id). Both rows go, C2 stays on each sheet, and the manifest's entry for
    the workbook gets its new row count and checksum. The erasure counts the person's CSV rows once (2), not
    again for the workbook."""
    import hashlib
    import json
    from datetime import datetime

    from bullseye.activation.exports import write_csv, write_xlsx
    from bullseye.privacy.forget import scrub_export_folder
    from bullseye.privacy.person import Person

    night = tmp_path / "2026-06-01"
    night.mkdir()
    sms = pd.DataFrame({"customer_id": ["C1", "C2"], "phone": ["+8613812345678", "+8613912345678"]})
    email = pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["a@example.com", "b@example.com"]})
    whole = pd.DataFrame({"customer_id": ["C1", "C2", "C1", "C2"], "channel": ["sms", "sms", "email", "email"],
                          "contact": [*sms.phone, *email.email]})
    write_csv(whole, night / "spring.csv")
    write_xlsx({"sms": sms, "email": email}, night / "spring.xlsx")
    files = {"spring.csv": {"rows": 4, "sha256": "x", "phones": "national"},
             "spring.xlsx": {"rows": 4, "sha256": "y", "phones": "national"}}
    (night / "manifest.json").write_text(json.dumps({"campaigns": [{"files": files}]}))
    person = Person(lookup=("phone", "13812345678"), customer_ids={"C1"}, phones={"+8613812345678"})
    assert scrub_export_folder(night, person, "r1", datetime(2026, 6, 2)) == (2, 2)
    wb = load_workbook(night / "spring.xlsx")
    assert wb.sheetnames == ["sms", "email"]
    assert [[c.value for c in r] for r in wb["sms"].iter_rows()] == [["customer_id", "phone"], ["C2", "13912345678"]]
    assert [[c.value for c in r] for r in wb["email"].iter_rows()] == [
        ["customer_id", "email"], ["C2", "b@example.com"]]
    got = json.loads((night / "manifest.json").read_text())["campaigns"][0]["files"]["spring.xlsx"]
    assert got == {"rows": 2, "sha256": hashlib.sha256((night / "spring.xlsx").read_bytes()).hexdigest(),
                   "phones": "national"}
