"""Call sheets: where each call goes, and what a filled-in sheet means when it comes back through contacts/."""

from __future__ import annotations

import csv
import io

import pandas as pd

from bullseye.activation.call_sheets import (
    CALL_SHEET_ROWS,
    CONTEXT_COLUMNS,
    NO_STORE,
    SHEET_COLUMNS,
    contact_id,
    contact_id_sql,
    missing_context_note,
    readme,
    safe_name,
    sheet_path,
    write_call_sheets,
)
from bullseye.activation.exports import for_excel
from bullseye.activation.ledger import build_ledger
from bullseye.config import PROJECT_ROOT
from bullseye.ingest import load_landing
from bullseye.ingest.call_outcomes import NOT_CALLED, OUTCOMES
from tests.activation_kit import campaign
from tests.conftest import q, render_model_sql, write


def test_each_call_goes_to_its_salesperson_its_store_or_the_no_store_sheet():
    """A customer with a salesperson is on that salesperson's sheet in their store's folder; one with a store and
    no salesperson on the store's unassigned sheet; one with neither on the single no_store sheet."""
    assert sheet_path("ST01", "E7") == "ST01/E7.csv"
    assert sheet_path("ST01", None) == "ST01/unassigned.csv"
    assert sheet_path(None, None) == f"{NO_STORE}.csv"


def test_an_id_that_is_no_safe_file_name_gets_a_distinct_one():
    """'a/b' and 'a_b' would both become a_b.csv; the unsafe one gets its hash, so two salespeople never share a
    sheet, and a salesperson called 'unassigned' does not overwrite the store's unassigned sheet."""
    assert safe_name("E7") == "E7" and safe_name("店长王") == "店长王"
    assert safe_name("a/b") != safe_name("a_b") and "/" not in safe_name("a/b")
    assert safe_name("unassigned") != "unassigned" and safe_name("../x").startswith("x-")


def test_the_readme_lists_every_outcome_value_a_caller_may_write():
    """The caller learns the allowed values from the sheets' README: every canonical value and its Chinese name."""
    text = readme()
    for key, words in OUTCOMES.items():
        assert f"`{key}`" in text and all(w in text for w in words[1:])


def test_the_readme_says_what_every_column_means():
    """The sheets' README promises what the columns mean: one line per sheet column, in the sheet's order."""
    lines = [ln for ln in readme().splitlines() if ln.startswith("- `")]
    described = [ln.split("`")[1] for ln in lines[:len(SHEET_COLUMNS)]]
    assert described == list(SHEET_COLUMNS)
    assert all(len(ln.split(": ", 1)[1]) > 5 for ln in lines[:len(SHEET_COLUMNS)])


def _call_rows(con, rows: list[dict]) -> str:
    """A hand-made int_activation__call_sheet_rows for 2026-06-01: every column the sheets read, one call a row."""
    base = {c: None for c in CONTEXT_COLUMNS if c not in ("campaign_name", "message", "offer_code", "offer")}
    base.update(run_date=pd.Timestamp("2026-06-01"), campaign_id="svc", customer_id="C0", wave=1, rank_score=1.0,
                send_after=pd.Timestamp("2026-06-02 09:00"), send_before=pd.Timestamp("2026-06-02 18:00"),
                name="王芳", phone="+8613924681351", reason="included:svc", wave_name="first",
                lifecycle_stage="active", last_contact_at=pd.NaT)
    df = pd.DataFrame([{**base, **r} for r in rows])  # noqa: F841 (read by DuckDB below)
    con.execute(f"CREATE TABLE {CALL_SHEET_ROWS} AS SELECT * FROM df")
    return CALL_SHEET_ROWS


def test_calls_lacking_context_are_counted_per_sheet_and_said_in_the_night_summary(tmp_path, con):
    """Three calls: C1 on E1's sheet in S1 has everything; C2 on the same sheet has no phone; C3 (no store) has
    neither name nor stage. The sheets are still written (a call can be fixed by hand), but the manifest counts
    the columns (phone 1, name 1, lifecycle_stage 1), the calls (2 of 3) and where they are (one on S1/E1.csv,
    one on no_store.csv), and the night's summary, which reads the manifest, says so."""
    import json

    from bullseye.pipeline import _call_sheet_notes

    rel = _call_rows(con, [{"customer_id": "C1", "store_id": "S1", "salesperson_id": "E1"},
                           {"customer_id": "C2", "store_id": "S1", "salesperson_id": "E1", "phone": None},
                           {"customer_id": "C3", "name": None, "lifecycle_stage": None}])
    entry = write_call_sheets(con, "2026-06-01", tmp_path, [campaign("svc", channels=["phone"])], rel)
    assert (entry["calls"], entry["calls_missing_context"]) == (3, 2)
    assert entry["rows_missing_context"] == {"name": 1, "phone": 1, "lifecycle_stage": 1}
    assert entry["sheets_missing_context"] == {"call_sheets/S1/E1.csv": 1, "call_sheets/no_store.csv": 1}
    from openpyxl import load_workbook  # beside each CSV sheet its workbook, listed with its checksum

    e1 = next(s for s in entry["sheets"] if s["file"] == "call_sheets/S1/E1.csv")
    assert e1["xlsx_file"] == "call_sheets/S1/E1.xlsx"
    ws = load_workbook(tmp_path / e1["xlsx_file"])["calls"]
    header = [c.value for c in ws[1]]
    assert [ws.cell(row=r, column=header.index("phone") + 1).value for r in (2, 3)] == ["13924681351", None]
    assert ws.freeze_panes == "A2" and len(ws.data_validations.dataValidation) == 1
    (tmp_path / "manifest.json").write_text(json.dumps({"call_sheets": entry}), encoding="utf-8")
    assert _call_sheet_notes(tmp_path) == [
        "call sheets: 2 of 3 calls lack context a call needs (empty: name 1, phone 1, lifecycle_stage 1), on 2 of 2 "
        "sheets: call_sheets/S1/E1.csv (1), call_sheets/no_store.csv (1) (manifest call_sheets.sheets_missing_context)"]
    assert missing_context_note({**entry, "calls_missing_context": 0}) == ""  # nothing missing: no note


def _ledger_world(con, plans: list[tuple], sent: list[tuple], not_made: list[str]):
    """History plans (run_date, send_date, campaign, customer, channel, wave), contacts sent and the contact_ids
    of sheet rows returned empty, wired as int_contact__ledger wires them."""
    con.execute("""CREATE TABLE history (run_date DATE, send_date DATE, campaign_id VARCHAR, customer_id VARCHAR,
        channel VARCHAR, wave INTEGER, is_holdout BOOLEAN)""")
    con.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, false)", plans)
    con.execute("CREATE TABLE contacts (customer_id VARCHAR, campaign_id VARCHAR, channel VARCHAR, "
                "sent_at TIMESTAMP, address_key VARCHAR)")
    con.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, NULL)", sent)
    con.execute("CREATE TABLE not_made (contact_id VARCHAR)")
    con.executemany("INSERT INTO not_made VALUES (?)", [(c,) for c in not_made])
    sheet_id = contact_id_sql("t.run_date", "t.campaign_id", "t.customer_id", "t.wave")
    plans_sql = (f"(SELECT send_date, campaign_id, customer_id, channel, campaign_id AS occurrence_key, wave, "
                 f"is_holdout, channel = 'phone' AND EXISTS (SELECT 1 FROM not_made n WHERE n.contact_id = {sheet_id})"
                 f" AS not_made FROM history t)")
    return build_ledger(con, "contacts", plans_sql, 3, not_made=True).df()


def test_a_call_the_sheet_says_was_not_made_frees_its_plan(con):
    """Night 2026-06-01 planned four calls of `svc` for 06-02. A's sheet row came back empty (not made): the plan
    is no contact, so it leaves the ledger (no cap, no wave) and A is a candidate again. B's row came back empty
    too, but a later sheet reports B's call as made (sent 06-03, within the 3 match days): that contact is the
    plan, counted once as planned. C's sheet never came back: the plan is assumed made and stays. D's empty row
    names wave 2, not the wave planned (1): it is not D's plan, which stays. The contact_id the sheet writes
    (contact_id) is the one the ledger rebuilds from a plan (contact_id_sql), or nothing would ever match."""
    day, send = "2026-06-01", "2026-06-02"
    plans = [(day, send, "svc", who, "phone", 1) for who in ("A", "B", "C", "D")]
    empty = [contact_id(day, "svc", "A", 1), contact_id(day, "svc", "B", 1.0), contact_id(day, "svc", "D", 2)]
    assert empty[0] == "call:2026-06-01:svc:A:1" == empty[1].replace(":B:", ":A:")
    ledger = _ledger_world(con, plans, [("B", "svc", "phone", "2026-06-03 10:00")], empty)
    assert sorted(zip(ledger.customer_id, ledger.source, strict=True)) == [
        ("B", "planned"), ("C", "planned"), ("D", "planned")]


def test_the_not_called_rows_are_read_back_from_the_quarantine(tmp_path, con):
    """The loader holds an empty-outcome row as "not called"; the staging model stg_meta__calls_not_made (its SQL,
    run on this warehouse's meta.quarantine) reads back the contact_id the row carried, with its file and line,
    and nothing for a row with an outcome (k1 reached; k3's unknown outcome is held, but it is no "not called")."""
    rows = [{"contact_id": "call:2026-06-01:svc:C1:1", "customer_id": "C1", "outcome": "接通"},
            {"contact_id": "call:2026-06-01:svc:C2:1", "customer_id": "C2", "outcome": ""},
            {"contact_id": "call:2026-06-01:svc:C3:1", "customer_id": "C3", "outcome": "回头再说"}]
    write(tmp_path / "land" / "contacts" / "E7.csv", _sheet(rows), encoding="utf-8-sig")
    load_landing(con, tmp_path / "land", "2026-06-03")
    sql = render_model_sql(PROJECT_ROOT / "dbt_project" / "models" / "staging" / "stg_meta__calls_not_made.sql",
                           source=lambda schema, table: f"{schema}.{table}")
    assert q(con, f"SELECT path, line, contact_id, campaign_id, customer_id FROM ({sql})") == [
        ("contacts/E7.csv", 3, "call:2026-06-01:svc:C2:1", "svc", "C2")]
def _sheet(rows: list[dict]) -> str:
    """A call sheet as the export writes it (Excel-safe CSV, every sheet column), filled in like a caller would."""
    base = {c: "" for c in SHEET_COLUMNS}
    df = pd.DataFrame([{**base, "campaign_id": "svc", "channel": "phone", "sent_at": "2026-06-02 10:00",
                        "name": "王芳", "reason": "included:svc", **r} for r in rows])
    buf = io.StringIO()
    for_excel(df).to_csv(buf, index=False, quoting=csv.QUOTE_ALL)
    return buf.getvalue()


def test_a_filled_sheet_loads_as_contacts_with_each_outcome_mapped(tmp_path, con):
    """Each outcome sets the contract's contact fields as call_outcomes documents it: reached/refused reached the
    person (delivered), interested and purchased are responses dated by called_at, purchased credits its
    order, opt_out and complaint set their flags, no_answer and wrong_number did not reach anyone. An empty
    outcome is a call not made (held as "not called", not a contact) and an unknown one is held with its line
    and value, both said in the night's notes."""
    calls = [("k1", "接通", "", ""), ("k2", "有意向", "2026-06-02 14:05", ""), ("k3", "成交", "2026-06-02 15:00", "O9"),
             ("k4", "拒绝", "", ""), ("k5", "退订", "", ""), ("k6", "投诉", "", ""), ("k7", "未接通", "", ""),
             ("k8", "空号", "", ""), ("k9", "回头再说", "", ""), ("k10", "", "", ""), ("k11", "interested", "", "")]
    rows = [{"contact_id": k, "customer_id": f"C{i}", "phone": f"1392468{1300 + i}", "outcome": o, "called_at": at,
             "order_id": order} for i, (k, o, at, order) in enumerate(calls)]
    write(tmp_path / "land" / "contacts" / "E7.csv", _sheet(rows), encoding="utf-8-sig")
    report = load_landing(con, tmp_path / "land", "2026-06-03")
    got = {r[0]: r[1:] for r in q(con, """SELECT contact_id, delivered, strftime(responded_at, '%H:%M'),
        converted_order_id, opt_out, complaint, channel, strftime(sent_at, '%Y-%m-%d %H:%M') FROM raw.contacts""")}
    sent = ("phone", "2026-06-02 10:00")  # sent_at stays the planned call: the ledger matches it to the plan
    assert got == {
        "k1": (True, None, None, None, None, *sent), "k2": (True, "14:05", None, None, None, *sent),
        "k3": (True, "15:00", "O9", None, None, *sent), "k4": (True, None, None, None, None, *sent),
        "k5": (True, None, None, True, None, *sent), "k6": (True, None, None, None, True, *sent),
        "k7": (False, None, None, None, None, *sent), "k8": (False, None, None, None, None, *sent),
        # interested without called_at: responded when the call was planned
        "k11": (True, "10:00", None, None, None, *sent)}
    held = q(con, """SELECT line, value, reason FROM meta.quarantine WHERE action = 'row_held' ORDER BY line""")
    assert held[0][:2] == (10, "回头再说") and held[0][2].startswith("unknown call outcome")  # k9, line 10
    assert held[1] == (11, None, NOT_CALLED)  # k10
    assert any("E7.csv" in n and "1 row(s) not called" in n and "1 row(s) with an unknown outcome" in n
               for n in report.notes), report.notes


def test_purchased_without_an_order_id_is_a_response_with_a_warning(tmp_path, con):
    """A sale noted without its order id cannot be credited to an order: the row loads as a response (the call
    did happen and worked) and the quarantine warns, so someone can add the order id."""
    write(tmp_path / "land" / "contacts" / "s.csv",
          _sheet([{"contact_id": "k1", "customer_id": "C1", "outcome": "purchased", "called_at": "2026-06-02 11:00"}]),
          encoding="utf-8-sig")
    load_landing(con, tmp_path / "land", "2026-06-03")
    assert q(con, "SELECT delivered, converted_order_id, responded_at IS NOT NULL FROM raw.contacts") == [
        (True, None, True)]
    assert q(con, "SELECT action, reason FROM meta.quarantine")[0][0] == "warned"


def test_forget_erases_a_person_from_the_call_sheets_and_their_manifest_entry(tmp_path):
    """Call sheets sit in subfolders of the night's export folder. A forgotten person (PIPL Art. 47) must go from
    them too, and the manifest's row count and checksum must be the rewritten file's; the other caller stays."""
    import hashlib
    import json
    from datetime import datetime

    from openpyxl import load_workbook

    from bullseye.activation.exports import write_csv, write_xlsx
    from bullseye.privacy.forget import scrub_export_folder
    from bullseye.privacy.person import Person

    night = tmp_path / "2026-06-01"
    sheet = night / "call_sheets" / "S1" / "E1.csv"
    sheet.parent.mkdir(parents=True)
    rows = pd.DataFrame({"contact_id": ["a", "b"], "customer_id": ["C1", "C2"],
                         "phone": ["+8613812345678", "+8613912345678"], "outcome": [None, None]})
    write_csv(rows, sheet)
    write_xlsx({"calls": rows}, sheet.with_suffix(".xlsx"))
    entry = {"file": "call_sheets/S1/E1.csv", "rows": 2, "sha256": "x", "xlsx_file": "call_sheets/S1/E1.xlsx",
             "xlsx_sha256": "y"}
    (night / "manifest.json").write_text(json.dumps({"campaigns": [], "call_sheets": {"calls": 2, "sheets": [entry]}}))
    person = Person(lookup=("phone", "13812345678"), customer_ids={"C1"}, phones={"+8613812345678"})
    assert scrub_export_folder(night, person, "r1", datetime(2026, 6, 2)) == (1, 2)  # the CSV and its workbook
    left = pd.read_csv(sheet, encoding="utf-8-sig", dtype=str)
    assert left.customer_id.tolist() == ["C2"]
    got = json.loads((night / "manifest.json").read_text())["call_sheets"]
    assert got["calls"] == 1 and got["sheets"][0]["rows"] == 1
    assert got["sheets"][0]["sha256"] == hashlib.sha256(sheet.read_bytes()).hexdigest()
    xlsx = sheet.with_suffix(".xlsx")
    assert got["sheets"][0]["xlsx_sha256"] == hashlib.sha256(xlsx.read_bytes()).hexdigest()
    ws = load_workbook(xlsx)["calls"]  # rewritten as the night wrote it: text phone, frozen header, dropdown
    assert [[c.value for c in r] for r in ws.iter_rows()] == [
        ["contact_id", "customer_id", "phone", "outcome"], ["b", "C2", "13912345678", None]]
    assert ws["C2"].data_type == "s" and ws.freeze_panes == "A2" and len(ws.data_validations.dataValidation) == 1
