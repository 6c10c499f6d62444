"""Call sheets: where each call goes, and what a filled-in sheet means when it comes back through contacts/."""

from __future__ import annotations

import csv
import io

import pandas as pd

from bullseye.activation.call_sheets import NO_STORE, SHEET_COLUMNS, readme, safe_name, sheet_path
from bullseye.activation.exports import for_excel
from bullseye.ingest import load_landing
from bullseye.ingest.call_outcomes import NOT_CALLED, OUTCOMES
from tests.conftest import q, write


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

    from bullseye.activation.exports import write_csv
    from bullseye.privacy.forget import scrub_export_folder
    from bullseye.privacy.person import Person

    night = tmp_path / "2026-06-01"
    sheet = night / "call_sheets" / "S1" / "E1.csv"
    sheet.parent.mkdir(parents=True)
    write_csv(pd.DataFrame({"contact_id": ["a", "b"], "customer_id": ["C1", "C2"],
                            "phone": ["+8613812345678", "+8613912345678"]}), sheet)
    entry = {"file": "call_sheets/S1/E1.csv", "rows": 2, "sha256": "x"}
    (night / "manifest.json").write_text(json.dumps({"campaigns": [], "call_sheets": {"calls": 2, "sheets": [entry]}}))
    person = Person(lookup=("phone", "13812345678"), customer_ids={"C1"}, phones={"+8613812345678"})
    assert scrub_export_folder(night, person, "r1", datetime(2026, 6, 2)) == (1, 1)
    left = pd.read_csv(sheet, encoding="utf-8-sig", dtype=str)
    assert left.customer_id.tolist() == ["C2"]
    got = json.loads((night / "manifest.json").read_text())["call_sheets"]
    assert got["calls"] == 1 and got["sheets"][0]["rows"] == 1
    assert got["sheets"][0]["sha256"] == hashlib.sha256(sheet.read_bytes()).hexdigest()
