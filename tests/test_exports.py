"""The per-campaign export: the one-line postal address, and a night's folder that appears whole or not at all."""

from __future__ import annotations

import errno
import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bullseye.activation.exports import ExportError, _one_contact_column, _postal_line, export_lists
from tests.activation_kit import campaign


def test_postal_line_names_each_unit_once_largest_first():
    df = pd.DataFrame({"province": ["江苏省", "北京市", "广东省", None],
                       "city": ["南京市", "北京市", "广州市", "上海市"],
                       "district": ["建邺区", "朝阳区", None, "徐汇区"],
                       "address": ["建邺区新华路198号", "朝阳区建国路1号", "天河路1号", None]})
    assert _postal_line(df) == ["江苏省南京市建邺区新华路198号", "北京市朝阳区建国路1号", "广东省广州市天河路1号",
                                "上海市徐汇区"]


def test_campaign_file_row_keeps_only_its_channels_contact():
    sms = pd.DataFrame({"customer_id": ["c1"], "phone": ["+8613924681351"], "send_after": ["2026-06-02 09:00"]})
    row = _one_contact_column(sms, "sms").iloc[0].to_dict()
    assert row == {"customer_id": "c1", "channel": "sms", "name": None, "contact": "+8613924681351",
                   "send_after": "2026-06-02 09:00"}


# --- the night's folder is swapped in whole ------------------------------------------------------------------------

RUN = date(2026, 6, 1)


CONTACTS = "intermediate.int_activation__list_contacts"  # the test warehouse's copy of the dbt model

def tiny_warehouse(path: Path, people: list[tuple[str, str]], run_date: date = RUN) -> Path:
    """A warehouse with just the tables export_lists reads: ``people`` are (customer_id, channel) on list 'spring'."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA intermediate")
        con.execute("""CREATE TABLE intermediate.int_activation__list_contacts (run_date DATE, campaign_id VARCHAR,
            customer_id VARCHAR, name VARCHAR,
            phone VARCHAR, email VARCHAR, wechat_unionid VARCHAR, province VARCHAR, city VARCHAR,
            district VARCHAR, address VARCHAR, next_best_category VARCHAR, interest_categories VARCHAR[])""")
        con.execute("""CREATE TABLE marts.target_lists (run_date DATE, campaign_id VARCHAR, customer_id VARCHAR,
            channel VARCHAR, reason VARCHAR, is_holdout BOOLEAN, rank_score DOUBLE, send_after TIMESTAMP,
            send_before TIMESTAMP, wave INTEGER, wave_name VARCHAR, purpose VARCHAR, legal_basis VARCHAR,
            sms_signature VARCHAR, sms_opt_out_text VARCHAR)""")
        con.execute("""CREATE TABLE marts.contact_decisions (run_date DATE, campaign_id VARCHAR, customer_id VARCHAR,
            reason VARCHAR)""")
        con.execute("""CREATE TABLE marts.target_list_changes (run_date DATE, campaign_id VARCHAR,
            customer_id VARCHAR, change VARCHAR, reason VARCHAR, channel VARCHAR, is_holdout BOOLEAN,
            prev_run_date DATE)""")
        for i, (cid, channel) in enumerate(people):
            con.execute("INSERT INTO intermediate.int_activation__list_contacts VALUES (?, 'spring', ?, ?, ?, ?, NULL, "
                        "'江苏省', '南京市', '建邺区', '新华路1号', NULL, NULL)",
                        [run_date, cid, f"客户{i}", f"1380013800{i}", f"{cid}@example.com"])
            con.execute("INSERT INTO marts.target_lists VALUES (?, 'spring', ?, ?, 'included:spring', false, ?, "
                        "TIMESTAMP '2026-06-02 09:00', TIMESTAMP '2026-06-02 20:00', 1, 'main', 'marketing', "
                        "'consent', ?, ?)", [run_date, cid, channel, 1.0 / (i + 1),
                                              *(("【Bullseye】", "回T退订") if channel == "sms" else (None, None))])
            con.execute("INSERT INTO marts.contact_decisions VALUES (?, 'spring', ?, 'included:spring')",
                        [run_date, cid])
            con.execute("INSERT INTO marts.target_list_changes VALUES (?, 'spring', ?, 'added', 'included:spring', "
                        "?, false, NULL)", [run_date, cid, channel])
    finally:
        con.close()
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith("."))


def _fail_after(monkeypatch, method: str, good_calls: int, error: Exception) -> None:
    """Make ``pd.DataFrame.<method>`` write ``good_calls`` files normally, then raise ``error``."""
    real = getattr(pd.DataFrame, method)
    calls = {"n": 0}

    def flaky(self, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > good_calls:
            raise error
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, method, flaky)


@pytest.fixture
def spring():
    return [campaign("spring", channels=["sms", "email"])]


def test_a_night_writes_its_files_and_manifest_and_no_leftovers(tmp_path, spring):
    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("c1", "sms"), ("c2", "email"), ("c3", "sms")])
    out = tmp_path / "exports" / RUN.isoformat()
    assert export_lists(wh, RUN, out, spring, CONTACTS) == {"spring": 3}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["campaigns"][0]["files"]) == {
        "spring.csv", "spring.xlsx", "spring.parquet", "spring__sms.csv", "spring__sms.xlsx", "spring__sms.parquet",
        "spring__email.csv", "spring__email.xlsx", "spring__email.parquet", "spring__changes.csv",
        "spring__changes.xlsx"}
    files = manifest["campaigns"][0]["files"]
    assert {n: f["phones"] for n, f in files.items() if n.startswith("spring__sms")} == {
        "spring__sms.csv": "national", "spring__sms.xlsx": "national", "spring__sms.parquet": "e164"}
    assert set(manifest["phone_formats"]) == {"national", "e164"}
    for name, entry in files.items():  # every file, the workbooks included, with its checksum
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest(), name
    assert set(_snapshot(out)) == {*manifest["campaigns"][0]["files"], "manifest.json"}
    assert _leftovers(out) == []


def test_a_failure_after_the_first_file_keeps_the_previous_export_whole(tmp_path, monkeypatch, spring):
    """Before: the old files were deleted first and the new ones written in place, so a failure left a
    folder with one new file, no other list files and the previous night's manifest."""
    out = tmp_path / "exports" / RUN.isoformat()
    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("c1", "sms"), ("c2", "email")])
    export_lists(wh, RUN, out, spring, CONTACTS)
    before = _snapshot(out)
    rerun = tiny_warehouse(tmp_path / "rerun.duckdb", [("c1", "sms"), ("c2", "email"), ("c9", "sms")])
    _fail_after(monkeypatch, "to_csv", 1, RuntimeError("writer crashed"))
    with pytest.raises(ExportError) as err:
        export_lists(rerun, RUN, out, spring, CONTACTS)
    assert "spring__sms.csv" in str(err.value) and "writer crashed" in str(err.value)
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_a_full_disk_leaves_no_folder_under_the_final_name(tmp_path, monkeypatch, spring):
    out = tmp_path / "exports" / RUN.isoformat()
    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("c1", "sms"), ("c2", "email")])
    _fail_after(monkeypatch, "to_parquet", 1, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(ExportError) as err:
        export_lists(wh, RUN, out, spring, CONTACTS)
    assert "could not write export file spring__sms.parquet" in str(err.value)
    assert "the disk is full" in str(err.value)
    assert not out.exists()
    assert _leftovers(out) == []


def test_a_full_disk_while_writing_the_manifest_keeps_the_previous_export(tmp_path, monkeypatch, spring):
    out = tmp_path / "exports" / RUN.isoformat()
    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("c1", "sms")])
    export_lists(wh, RUN, out, spring, CONTACTS)
    before = _snapshot(out)
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "manifest.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(ExportError, match="manifest.json.*the disk is full"):
        export_lists(tiny_warehouse(tmp_path / "other.duckdb", [("c2", "email")]), RUN, out, spring, CONTACTS)
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_a_rerun_replaces_the_whole_folder(tmp_path, spring):
    """Files of the earlier run that tonight does not write (a channel no longer used) do not linger."""
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(tiny_warehouse(tmp_path / "a.duckdb", [("c1", "sms"), ("c2", "email")]), RUN, out, spring, CONTACTS)
    export_lists(tiny_warehouse(tmp_path / "b.duckdb", [("c1", "sms")]), RUN, out, spring, CONTACTS)
    assert not (out / "spring__email.csv").exists() and (out / "spring__sms.csv").exists()
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["campaigns"][0]["exported"] == 1


def test_leftovers_of_a_killed_run_are_cleaned_and_a_half_swapped_folder_is_put_back(tmp_path, monkeypatch, spring):
    """A kill between 'rename old away' and 'rename new in' leaves no final folder: the next run puts the
    previous export back before it starts, so even if that run fails the previous export is there."""
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(tiny_warehouse(tmp_path / "a.duckdb", [("c1", "sms")]), RUN, out, spring, CONTACTS)
    before = _snapshot(out)
    out.rename(out.with_name(f".{out.name}.old-424242"))  # killed mid-swap
    half = out.with_name(f".{out.name}.tmp-434343")  # and a half-written folder of a killed run
    half.mkdir()
    (half / "spring__sms.csv").write_text("partial", encoding="utf-8")
    _fail_after(monkeypatch, "to_csv", 0, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(ExportError):
        export_lists(tiny_warehouse(tmp_path / "b.duckdb", [("c2", "sms")]), RUN, out, spring, CONTACTS)
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_swap_puts_the_old_folder_back_when_the_new_one_cannot_be_renamed_in(tmp_path, monkeypatch, spring):
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(tiny_warehouse(tmp_path / "a.duckdb", [("c1", "sms")]), RUN, out, spring, CONTACTS)
    before = _snapshot(out)
    real = Path.rename

    def refuse(self, target):
        if ".tmp-" in self.name:
            raise OSError(errno.EIO, "Input/output error")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(OSError):
        export_lists(tiny_warehouse(tmp_path / "b.duckdb", [("c2", "sms")]), RUN, out, spring, CONTACTS)
    assert _snapshot(out) == before
    assert _leftovers(out) == []


# --- CSV files open safely in Excel (issue 13 case 5) ---------------------------------------------------------------

INJECTED = {"c1": '=HYPERLINK("http://x","点我")', "c2": "@SUM(1)", "c3": "+1", "c4": "\t=1+1"}


def test_domestic_phones_are_written_as_national_numbers():
    from bullseye.activation.exports import domestic_phone

    assert domestic_phone("+8613924681351") == "13924681351"
    assert domestic_phone("0086-159-5118-5617") == "15951185617"
    assert domestic_phone("+14155552671") == "+14155552671"  # foreign: kept, and neutralised as text
    assert domestic_phone("not a phone") == "not a phone" and domestic_phone(None) is None


def test_no_csv_cell_runs_as_a_formula_and_parquet_keeps_the_true_values(tmp_path, spring):
    """Before: names were written verbatim, so Excel ran =HYPERLINK(...) and @SUM(1) as formulas."""
    import csv

    from bullseye.activation.exports import FORMULA_START

    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("c1", "phone"), ("c2", "mail"), ("c3", "phone"), ("c4", "email")])
    con = duckdb.connect(str(wh))
    for cid, name in INJECTED.items():
        con.execute("UPDATE intermediate.int_activation__list_contacts SET name = ?, phone = ? WHERE customer_id = ?",
                    [name, f"+86138001380{cid[1:].zfill(2)}", cid])
    con.execute("""UPDATE intermediate.int_activation__list_contacts SET province = NULL, city = NULL, district = NULL,
                   address = '-2+3' WHERE customer_id = 'c2'""")
    con.close()
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(wh, RUN, out, spring, CONTACTS)

    csv_files = sorted(out.glob("*.csv"))
    assert {f.name for f in csv_files} >= {"spring.csv", "spring__phone.csv", "spring__mail.csv", "spring__email.csv",
                                           "spring__changes.csv"}
    for f in csv_files:
        text = f.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(text.splitlines(keepends=True)))
        assert all(not cell.startswith(FORMULA_START) for row in rows for cell in row), f.name
        assert all(line.startswith('"') for line in text.splitlines()[1:] if line), f"{f.name}: fields quoted"
    whole = pd.read_csv(out / "spring.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    names = dict(zip(whole["customer_id"], whole["name"], strict=True))
    assert names == {cid: "'" + name for cid, name in INJECTED.items()}
    contact = dict(zip(whole["customer_id"], whole["contact"], strict=True))
    assert contact["c1"] == "13800138001" and contact["c3"] == "13800138003"  # national, not +86...
    assert contact["c2"] == "'-2+3" and contact["c4"] == "c4@example.com"
    by_phone = pd.read_csv(out / "spring__phone.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(by_phone["phone"]) == ["13800138001", "13800138003"]
    raw = (out / "spring.csv").read_text(encoding="utf-8-sig")
    assert '"\'=HYPERLINK(""http://x"",""点我"")"' in raw

    parquet = pd.read_parquet(out / "spring.parquet")
    assert dict(zip(parquet["customer_id"], parquet["name"], strict=True)) == INJECTED
    assert dict(zip(parquet["customer_id"], parquet["contact"], strict=True))["c1"] == "+8613800138001"


def test_sms_rows_carry_signature_opt_out_text_and_every_row_its_basis(tmp_path, spring):
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(tiny_warehouse(tmp_path / "wh.duckdb", [("C1", "sms"), ("C2", "email")]), RUN, out, spring, CONTACTS)
    sms = pd.read_csv(out / "spring__sms.csv", encoding="utf-8-sig", dtype=str)
    assert sms[["sms_signature", "sms_opt_out_text", "purpose", "legal_basis"]].values.tolist() == [
        ["【Bullseye】", "回T退订", "marketing", "consent"]]
    email = pd.read_csv(out / "spring__email.csv", encoding="utf-8-sig", dtype=str)
    assert "sms_signature" not in email.columns and email["legal_basis"].tolist() == ["consent"]


def test_export_columns_travel_with_each_row_into_every_file_and_the_manifest(tmp_path):
    """The campaign names next_best_category (and the list column interest_categories) as export columns:
    C1 (sms) is recommended 厨房电器, C2 (email) 小家电, so each channel's file and the campaign's file carry that
    category on the person's own row, the list written as one text (厨具、小家电), and the manifest names the
    columns. A campaign without export_columns (spring, above) carries neither column."""
    grow = [campaign("spring", channels=["sms", "email"],
                     export_columns=["next_best_category", "interest_categories"])]
    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("C1", "sms"), ("C2", "email")])
    con = duckdb.connect(str(wh))
    con.execute(f"UPDATE {CONTACTS} SET next_best_category = '厨房电器', interest_categories = ['厨具', '小家电'] "
                "WHERE customer_id = 'C1'")
    con.execute(f"UPDATE {CONTACTS} SET next_best_category = '小家电' WHERE customer_id = 'C2'")
    con.close()
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(wh, RUN, out, grow, CONTACTS)
    read = lambda name: pd.read_csv(out / name, encoding="utf-8-sig", dtype=str, keep_default_na=False)  # noqa: E731
    sms, email, whole = read("spring__sms.csv"), read("spring__email.csv"), read("spring.csv")
    assert sms[["customer_id", "next_best_category", "interest_categories"]].values.tolist() == [
        ["C1", "厨房电器", "厨具、小家电"]]
    assert email[["customer_id", "next_best_category", "interest_categories"]].values.tolist() == [["C2", "小家电", ""]]
    assert dict(zip(whole.customer_id, whole.next_best_category, strict=True)) == {"C1": "厨房电器", "C2": "小家电"}
    assert list(sms.columns).index("next_best_category") == list(sms.columns).index("offer_code") + 1
    parquet = pd.read_parquet(out / "spring__sms.parquet")
    assert parquet["next_best_category"].tolist() == ["厨房电器"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["campaigns"][0]["export_columns"] == ["next_best_category", "interest_categories"]
    plain = tmp_path / "plain"
    export_lists(tiny_warehouse(tmp_path / "wh2.duckdb", [("C1", "sms")]), RUN, plain,
                 [campaign("spring", channels=["sms"])], CONTACTS)
    assert "next_best_category" not in pd.read_csv(plain / "spring__sms.csv", encoding="utf-8-sig").columns


# --- the xlsx beside each CSV (issue 17 item 2) ---------------------------------------------------------------------

def test_xlsx_has_text_phones_with_the_leading_1_a_frozen_header_and_one_sheet_per_channel(tmp_path, spring):
    """Three people on sms/email/phone. The numbers are stored E.164 (+8613800138000 ...): in the workbook a
    domestic number must be the 11-digit national number as a TEXT cell (Excel would show a number cell as
    1.38E+10), customer_id text too; the campaign's workbook has one sheet per channel with that channel's own
    fields (sms: phone and signature; email: email), each header row frozen; a name that looks like a formula
    is a string cell, never a formula. C3 has a US number: it stays E.164, since +1 415... dialled as a national
    number from China would reach nobody."""
    from openpyxl import load_workbook

    wh = tiny_warehouse(tmp_path / "wh.duckdb", [("C1", "sms"), ("C2", "email"), ("C3", "phone")])
    con = duckdb.connect(str(wh))
    con.execute(f"UPDATE {CONTACTS} SET phone = '+86' || phone WHERE customer_id IN ('C1', 'C2')")
    con.execute(f"UPDATE {CONTACTS} SET phone = '+14155552671', name = '=1+1' WHERE customer_id = 'C3'")
    con.close()
    out = tmp_path / "exports" / RUN.isoformat()
    export_lists(wh, RUN, out, [campaign("spring", channels=["sms", "email", "phone"])], CONTACTS)

    wb = load_workbook(out / "spring.xlsx")
    assert wb.sheetnames == ["email", "phone", "sms"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row), f"{ws.title}: no formula cell"
        header = [c.value for c in ws[1]]
        assert header[0] == "customer_id" and ws["A2"].data_type == "s" and ws["A2"].number_format == "@"
        widths = [ws.column_dimensions[c.column_letter].width for c in ws[1]]
        assert all(len(h) + 2 <= w <= 60 for h, w in zip(header, widths, strict=True)), ws.title
    sms = wb["sms"]
    header = [c.value for c in sms[1]]
    assert "phone" in header and "sms_signature" in header and "email" not in header
    phone = sms.cell(row=2, column=header.index("phone") + 1)
    assert (phone.value, phone.data_type, phone.number_format) == ("13800138000", "s", "@")
    assert "phone" not in [c.value for c in wb["email"][1]]
    call = wb["phone"]
    header = [c.value for c in call[1]]
    foreign = call.cell(row=2, column=header.index("phone") + 1)
    assert (foreign.value, foreign.data_type) == ("+14155552671", "s")
    name = call.cell(row=2, column=header.index("name") + 1)
    assert (name.value, name.data_type) == ("=1+1", "s")

    # the per-channel workbook: one sheet, the same national number
    one = load_workbook(out / "spring__sms.xlsx")
    assert len(one.sheetnames) == 1 and one.active["B2"].value == "13800138000"
    # the CSV: national domestic number, the foreign one international (neutralised as text in the CSV)
    csv_sms = pd.read_csv(out / "spring__sms.csv", dtype=str, encoding="utf-8-sig")
    assert csv_sms["phone"].tolist() == ["13800138000"]
    csv_phone = pd.read_csv(out / "spring__phone.csv", dtype=str, encoding="utf-8-sig")
    assert csv_phone["phone"].tolist() == ["'+14155552671"]
    assert pd.read_parquet(out / "spring__sms.parquet")["phone"].tolist() == ["+8613800138000"]


def test_a_landline_is_written_national_without_spaces():
    """A Beijing landline +86 10 1234 5678 is dialled in China as 010 1234 5678: phonenumbers' NATIONAL format,
    spaces dropped."""
    from bullseye.activation.exports import domestic_phone

    assert domestic_phone("+861012345678") == "01012345678"
    assert domestic_phone("+86 20 8888 6666") == "02088886666"


def test_a_call_sheet_workbook_has_an_outcome_dropdown_of_the_allowed_outcomes(tmp_path):
    """The outcome column's data validation lists exactly bullseye.ingest.call_outcomes.OUTCOMES' keys, the
    values the loader reads; the phone is text and national."""
    from openpyxl import load_workbook

    from bullseye.activation.exports import write_xlsx
    from bullseye.ingest.call_outcomes import OUTCOMES

    sheet = pd.DataFrame({"contact_id": ["call:1"], "customer_id": ["C1"], "phone": ["+8613912345678"],
                          "wave": [1], "outcome": [None], "order_id": [None]})
    write_xlsx({"calls": sheet}, tmp_path / "E1.xlsx")
    ws = load_workbook(tmp_path / "E1.xlsx")["calls"]
    (dv,) = ws.data_validations.dataValidation
    assert dv.type == "list" and dv.formula1 == '"' + ",".join(OUTCOMES) + '"'
    assert str(dv.sqref).startswith("E2:E")
    assert (ws["C2"].value, ws["C2"].data_type) == ("13912345678", "s")
    assert ws["D2"].value == 1 and ws["D2"].data_type == "n"  # a number column stays a number
    assert ws["F1"].value == "order_id" and ws["F2"].number_format == "@"  # to fill in, as text
