"""Two nights of the whole job with hand-made campaigns: lists out, contacts back, the next night obeys them.

Landing zone: six store customers c1..c6 who last bought in 2025, and a purchased list (sms only,
until 2026-12-31) with two prospects. Campaign folder (tmp): the repo's contact policy and
  bday     priority 90, birthday 7 days ahead, sms (c1's birthday is 06-05);
  winback  priority 50, every customer, sms then email, one wave, holdout 30%;
  later    priority 10, every customer, sms;
  acq      priority 20, prospects, phone then sms (the list permits only sms);
  call     priority 70, the first anniversary of an oven (厨电) bought 14 days ahead, phone.
c2 withdrew sms consent on 05-01, so winback reaches her by email. c11..c14 consented to phone calls only
and bought an oven in June 2025 and accessories in March 2026: night 1's call sheets have c11 on salesperson
E2's sheet (store S2), c12 on S2's unassigned sheet, c14 on E3's (S3) and c13 (no store) on no_store.csv.
The sheets come back filled in: c11 interested, c12 退订 (opt-out), c13 an outcome no one knows, c14 not called.

Night 1 (2026-06-01, lists for 06-02). Contacts come back for winback's sends (the holdout, fixed by
a hash, is not sent): the first person sent an sms opts out; the second orders on 06-02 with the
coupon WB10. Night 2 (2026-06-02): winback's one wave is done, so `later` gets everyone: the
opted-out person is suppressed, the people sms'd on night 1 hit the 1-in-7-days sms cap, the
holdout (never contacted) is free, and c2 has no sms consent. Night 3 (2026-06-17): the 14-day
window after night 1's sends has closed; one holdout person ordered meanwhile (no coupon), so
winback's uplift is 1/treated - 1/holdout.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil

import duckdb
import pandas as pd
import pytest

from bullseye.activation.campaigns import AUDIENCE_COLUMNS, TRIGGER_COLUMNS, load_policy
from bullseye.activation.policy import holdout_draw
from bullseye.activation.why import explain
from bullseye.cli import main
from bullseye.config import PROJECT_ROOT
from tests.conftest import write

pytestmark = pytest.mark.slow

# c5 and c6 gave lunar birthdays (the lunar_birthday extra column): 六月初十, and 闰六月初十 for c6.
CRM = """source_customer_id,name,phone,email,birth_date,store_id,employee_id,joined_at,wedding_date,gender,\
lunar_birthday
c1,王芳,13924681351,,1990-06-05,S1,E1,2024-01-01,,F,
c2,刘洋,13924681352,liuyang@example.com,1985-01-20,S1,E1,2024-01-01,,M,
c3,陈静,13924681353,,1982-02-02,S1,E1,2024-01-01,,F,
c4,杨磊,13924681354,,1979-03-03,S1,E1,2024-01-01,2015-06-20,M,
c5,赵敏,13924681355,,1991-04-04,S1,E1,2024-01-01,,F,06-10
c6,黄强,13924681356,,1993-09-09,S1,E1,2024-01-01,,M,1993-闰06-10
c7,郑国栋,13924681357,zhengguodong@example.com,1958-11-23,S1,E1,2024-01-01,,M,
c8,林小红,13924681357,linxiaohong@example.com,2001-07-14,S1,E1,2024-01-01,,F,
c9,吴小宝,13924681359,,2015-03-03,S1,E1,2024-01-01,,M,
c10,许文,13924681360,,1988-08-08,S1,E1,2024-01-01,,M,
c11,孙伟,13924681361,,1980-10-10,S2,E2,2024-01-01,,M,
c12,钱芳,13924681362,,1981-10-10,S2,,2024-01-01,,F,
c13,周敏,13924681363,,1982-10-10,,,2024-01-01,,F,
c14,何刚,13924681364,,1983-10-10,S3,E3,2024-01-01,,M,
"""
ORDERS = "order_id,source_customer_id,order_ts,amount\n" + "".join(
    f"o{i},c{i},2025-{min(i, 12):02d}-10 12:00:00,{100 * i}\n" for i in range(1, 11)) + (
    "o71,c7,2026-04-01 12:00:00,3000\no11,c1,2026-04-01 12:00:00,3000\n") + "".join(
    f"o{n}a,c{n},2025-06-0{n - 6} 12:00:00,{n * 300}\no{n}b,c{n},2026-03-0{n - 10} 12:00:00,{n * 10}\n"
    for n in (11, 12, 13, 14))
# Large appliances bought 04-01: the one-month install follow-up (grace 14 days) is overdue on every night.
# c11..c14 bought an oven (厨电) in June 2025 and accessories (配件) in March 2026: the oven's first anniversary
# puts them on the `call` campaign's phone list on night 1.
ORDER_LINES = ("order_id,sku,category,quantity,unit_price,amount\n"
               "o71,SKU1,大家电,1,3000,3000\no11,SKU1,大家电,1,3000,3000\n") + "".join(
    f"o{n}a,OVEN-{n},厨电,1,{n * 300},{n * 300}\no{n}b,ACC-{n},配件,1,{n * 10},{n * 10}\n" for n in (11, 12, 13, 14))
LIST = """list_record_id,name,phone,province
R1,孙丽,13712345671,广东
R2,周杰,13787654322,广东
"""
MANIFEST = {"list_id": "fair", "vendor": "博览会", "acquired_at": "2026-05-01", "legal_basis": "consent_with_transfer",
            "permitted_channels": ["sms"], "expires_at": "2026-12-31", "cost": 100}
# The shipped policy opens no channel for marketing without consent: everyone consented on 01-01 (c7 and
# c8 through their own emails, as they share a number). c2 withdrew sms later; a do-not-contact was given
# for the number c7 and c8 share (issue 13 case 1: it binds the number for both).
CONSENTS = ("ts,channel,status,phone,email\n"
            + "".join(f"2026-01-01 10:00:00,all,granted,139246813{n},\n" for n in (51, 52, 53, 54, 55, 56, 59, 60))
            + "".join(f"2026-01-01 10:00:00,phone,granted,139246813{n},\n" for n in (61, 62, 63, 64))
            + "2026-01-01 10:00:00,all,granted,,zhengguodong@example.com\n"
            + "2026-01-01 10:00:00,all,granted,,linxiaohong@example.com\n"
            + "2026-05-01 10:00:00,sms,withdrawn,13924681352,\n"
            + "2026-05-10 10:00:00,all,do_not_contact,13924681357,\n")
CAMPAIGNS = {
    "bday": "trigger: {type: birthday, days_ahead: 7}\naudience: is_customer\nchannels: [sms]\npriority: 90\n",
    "winback": "audience: is_customer\nchannels: [sms, email]\npriority: 50\nholdout_share: 0.3\n"
               "offer: {code: WB10}\n",
    "later": "audience: is_customer\nchannels: [sms]\npriority: 10\n",
    "acq": "audience: customer_status = 'prospect'\nchannels: [phone, sms]\npriority: 20\nobjective: acquire\n",
    "call": "trigger: {type: purchase_anniversary, years: [1], categories: [厨电], days_ahead: 14}\n"
            "audience: is_customer\nchannels: [phone]\npriority: 70\n"
            "waves: [{name: first_call, message: 周年回访 烤箱保养}]\n"
            "offer: {code: OVEN1, description: 免费保养一次}\n",
}
NIGHTS = ["2026-06-01", "2026-06-02", "2026-06-17"]
# bullseye.activation.why's answers for c1 and c2 on night 1, taken by the `nights` fixture before night 2.
WHY_NIGHT1: dict = {}


def _campaigns(folder):
    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", folder / "contact_policy.yml")
    for cid, body in CAMPAIGNS.items():
        head = f"id: {cid}\nname: {cid}\nstart: 2026-01-01\nend: 2026-12-31\n"
        if "objective" not in body:
            head += "objective: retain\n"
        write(folder / f"{cid}.yml", head + body)


def _query(home, sql, warehouse=False):
    path = home / ("warehouse" if warehouse else "published") / "bullseye.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _decisions(home, run_date):
    df = _query(home, f"""SELECT d.campaign_id, m.source_record_id, d.channel, d.decision, d.reason, d.is_holdout,
            d.detail, d.purpose, d.legal_basis
        FROM marts.contact_decisions d JOIN marts.customer_identity_map m USING (customer_id)
        WHERE d.run_date = DATE '{run_date}'""")
    df["who"] = df.source_record_id.str.split(":").str[-1]
    return {(r.campaign_id, r.who): r for r in df.itertuples(index=False)}


# What the callers wrote on night 1's sheets: (outcome, called_at) per sheet.
CALLED = {"S2/E2.csv": ("有意向", "2026-06-02 11:30"), "S2/unassigned.csv": ("退订", "2026-06-02 10:15"),
          "no_store.csv": ("回头再说", "2026-06-02 10:20"), "S3/E3.csv": ("", "")}


def _return_call_sheets(sheets, contacts):
    """Fill in each sheet as a caller would in Excel (outcome and called_at) and drop it, as it is, into
    contacts/ (Excel saves the sheet as UTF-8 with BOM, every field quoted)."""
    for rel, (outcome, at) in CALLED.items():
        sheet = pd.read_csv(sheets / rel, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        sheet["outcome"], sheet["called_at"] = outcome, at
        contacts.mkdir(parents=True, exist_ok=True)
        sheet.to_csv(contacts / f"calls_{rel.replace('/', '_')}", index=False, encoding="utf-8-sig",
                     quoting=csv.QUOTE_ALL)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("activation")
    land, home, camps = root / "land", root / "home", root / "campaigns"
    camps.mkdir()
    _campaigns(camps)
    write(land / "crm_customers" / "crm.csv", CRM)
    write(land / "orders" / "orders.csv", ORDERS)
    write(land / "order_lines" / "lines.csv", ORDER_LINES)
    write(land / "lists" / "fair" / "records.csv", LIST)
    write(land / "lists" / "fair" / "manifest.json", json.dumps(MANIFEST, ensure_ascii=False))
    write(land / "consents" / "consents.csv", CONSENTS)
    args = ["run", "--landing", str(land), "--home", str(home), "--campaigns", str(camps)]
    assert main([*args, "--as-of", NIGHTS[0]]) == 0
    first = _decisions(home, NIGHTS[0])
    ids = _query(home, """SELECT split_part(source_record_id, ':', 2) AS who, customer_id
        FROM marts.customer_identity_map WHERE source = 'crm_customers'""").set_index("who").customer_id.to_dict()
    who_of = {v: k for k, v in ids.items()}
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:  # `bullseye lists why` answers for night 1 (the warehouse keeps only the latest night's audience)
        WHY_NIGHT1.update({(who_of[a.customer_id], a.campaign_id): a
                           for a in explain(con, [ids["c1"], ids["c2"]])})
    finally:
        con.close()
    sent = _query(home, f"""SELECT customer_id, channel FROM marts.target_lists
        WHERE run_date = DATE '{NIGHTS[0]}' AND campaign_id = 'winback' AND NOT is_holdout ORDER BY customer_id""")
    sent["who"] = sent.customer_id.map(who_of)
    by_sms = sorted(w for w in sent[sent.channel == "sms"].who if w != "c10")  # c10 replies TD to another tool
    assert len(by_sms) >= 2, sent  # the fixture needs one sms person to opt out and one to convert
    opted_out, converter = by_sms[0], by_sms[1]
    rows = ["contact_id,campaign_id,channel,sent_at,customer_id,delivered,coupon_code,opt_out,phone,reply,responded_at"]
    for i, r in enumerate(sent.itertuples(index=False)):  # the converter responded before ordering
        rows.append(f"k{i},winback,{r.channel},2026-06-02 09:30:00,{r.customer_id},true,WB10,"
                    f"{'true' if r.who == opted_out else 'false'},,,"
                    f"{'2026-06-02 14:00:00' if r.who == converter else ''}")
    # Another tool's sms to c10, who replied TD to the gateway: a refusal for that number (issue 13).
    rows.append("kx,ext,sms,2026-06-01 20:00:00,,true,,false,139-2468-1360,TD,")
    write(land / "contacts" / "night1.csv", "\n".join(rows) + "\n")
    _return_call_sheets(home / "exports" / NIGHTS[0] / "call_sheets", land / "contacts")
    write(land / "orders" / "orders_0602.csv", "order_id,source_customer_id,order_ts,amount,coupon_code\n"
          f"o99,{converter},2026-06-02 15:00:00,500,WB10\n")
    assert main([*args, "--as-of", NIGHTS[1]]) == 0
    second = _decisions(home, NIGHTS[1])
    # Night 3: the 14-day window after night 1's sends (06-02) has closed. One person of the
    # holdout ordered on 06-10 without the coupon.
    held_out = sorted(w for w in ("c3", "c4", "c5", "c6") if first[("winback", w)].is_holdout)
    assert held_out, "the fixture needs a winback holdout"
    write(land / "orders" / "orders_0610.csv", "order_id,source_customer_id,order_ts,amount\n"
          f"o98,{held_out[0]},2026-06-10 11:00:00,300\n")
    assert main([*args, "--as-of", NIGHTS[2]]) == 0
    return home, ids, first, second, sent, opted_out, converter


def test_audience_model_has_exactly_the_declared_columns(nights):
    home = nights[0]
    cols = _query(home, """SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'intermediate' AND table_name = 'int_activation__audience'""", warehouse=True)
    extra = {"phone", "email", "wechat_unionid", "address", "household_key"}  # contact fields
    assert set(cols.column_name) == set(AUDIENCE_COLUMNS) | extra


def test_first_night_reasons(nights):
    _, ids, first, *_ = nights
    assert first[("bday", "c1")].reason == "included:bday"
    assert first[("winback", "c1")].reason == "excluded:lower_priority"
    assert (first[("winback", "c2")].channel, first[("winback", "c2")].decision) == ("email", "included")
    for who in ("R1", "R2"):  # the list permits sms only
        assert (first[("acq", who)].channel, first[("acq", who)].reason) == ("sms", "included:acq")
    for who in ("c3", "c4", "c5", "c6"):
        assert first[("winback", who)].reason == "included:winback"
        assert first[("winback", who)].is_holdout == (holdout_draw("winback", ids[who]) < 0.3)
        assert first[("later", who)].reason == "excluded:lower_priority"


def test_second_night_obeys_feedback_caps_and_waves(nights):
    _, ids, first, second, _, opted_out, converter = nights
    for who in ("c3", "c4", "c5", "c6"):  # one wave, sent or held out on night 1
        assert second[("winback", who)].reason == "excluded:waves_complete"
    assert second[("later", opted_out)].reason == "excluded:do_not_contact"  # opted out on night 1's sms
    assert second[("later", "c2")].reason == "excluded:no_sms_consent"
    assert second[("later", converter)].reason == "excluded:cap_7d_sms"  # sms planned for 06-02, cap 1 in 7 days
    held_out = [w for w in ("c3", "c4", "c5", "c6") if first[("winback", w)].is_holdout]
    for who in held_out:  # never contacted: free for the next campaign
        assert second[("later", who)].reason == "included:later", who


def test_a_refusal_binds_the_number_whoever_carries_it_and_children_get_no_marketing(nights):
    # Issue 13 cases 1 and 6 end to end: c7 and c8 share a number with a do-not-contact given for the number;
    # each consented through their own email. c9 is 11. c10 replied TD to another tool's sms.
    home, ids, first, second, *_ = nights
    assert ids["c7"] != ids["c8"], "the fixture needs two people on one number"
    for who in ("c7", "c8"):
        d = first[("winback", who)]
        assert (d.decision, d.channel, d.legal_basis) == ("included", "email", "consent"), d
        assert "sms: excluded:phone_do_not_contact" in d.detail
        assert second[("later", who)].reason == "excluded:phone_do_not_contact"
    assert first[("winback", "c9")].reason == "excluded:minor"
    assert second[("later", "c10")].reason == "excluded:do_not_contact"
    for who in ("R1", "R2"):
        assert first[("acq", who)].legal_basis == "list_licence:consent_with_transfer"
    rows = _query(home, f"""SELECT channel, purpose, legal_basis, sms_signature, sms_opt_out_text
        FROM marts.target_lists WHERE run_date = DATE '{NIGHTS[0]}'""")
    assert rows.legal_basis.notna().all() and set(rows.purpose) == {"marketing"}
    pol = load_policy(home.parent / "campaigns")
    sms = rows[rows.channel == "sms"]
    assert len(sms) and (sms.sms_signature == pol.sms_signature).all()
    assert (sms.sms_opt_out_text == pol.sms_opt_out_text).all()
    assert rows[rows.channel != "sms"].sms_signature.isna().all()


def test_service_alerts_go_through_the_contact_policy(nights):
    # Issue 13 case 7: c1 and c7 are overdue for the install follow-up; c7's number has a do-not-contact.
    home, ids = nights[0], nights[1]
    alerts = _query(home, "SELECT customer_id, phone, reason, legal_basis FROM marts.service_overdue_alerts")
    by = {r.customer_id: r for r in alerts.itertuples(index=False)}
    assert set(by) == {ids["c1"], ids["c7"]}
    assert (by[ids["c1"]].reason, by[ids["c1"]].phone) == ("included:service_overdue", "+8613924681351")
    assert by[ids["c1"]].legal_basis == "consent"
    assert by[ids["c7"]].reason == "excluded:phone_do_not_contact" and pd.isna(by[ids["c7"]].phone)
    assert pd.isna(by[ids["c7"]].legal_basis)


def test_exports_carry_channel_fields_manifest_and_diff(nights):
    home, first = nights[0], nights[2]
    out = home / "exports" / NIGHTS[1]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    later = next(c for c in manifest["campaigns"] if c["campaign_id"] == "later")
    assert later["definition_sha256"] == hashlib.sha256(
        (home.parent / "campaigns" / "later.yml").read_bytes()).hexdigest()
    # the sms opt-out, c10's TD reply and c12's 退订 on her call sheet
    assert later["counts_by_reason"]["excluded:do_not_contact"] == 3
    winback = next(c for c in manifest["campaigns"] if c["campaign_id"] == "winback")
    assert winback["included"] == 0
    # night 1's winback list is gone tonight: every person removed, with tonight's reason
    changes = pd.read_csv(out / "winback__changes.csv", encoding="utf-8-sig", dtype=str)
    n_winback = sum(1 for (c, _), r in first.items() if c == "winback" and r.decision == "included")
    assert len(changes) == n_winback
    assert (changes.change == "removed").all() and (changes.reason == "excluded:waves_complete").all()
    first = json.loads((home / "exports" / NIGHTS[0] / "manifest.json").read_text(encoding="utf-8"))
    wb = next(c for c in first["campaigns"] if c["campaign_id"] == "winback")
    sms = pd.read_csv(home / "exports" / NIGHTS[0] / "winback__sms.csv", encoding="utf-8-sig", dtype=str)
    assert list(sms.columns[:4]) == ["customer_id", "phone", "send_after", "send_before"]
    assert "email" not in sms.columns
    assert wb["exported"] == wb["included"] - wb["holdout"]
    assert (sms.offer_code == "WB10").all()
    # one file per campaign: everyone exported, each row with its own channel's contact only
    whole = pd.read_csv(home / "exports" / NIGHTS[0] / "winback.csv", encoding="utf-8-sig", dtype=str)
    assert len(whole) == wb["exported"] and set(whole.columns) >= {"customer_id", "channel", "name", "contact"}
    email = whole[whole.channel == "email"].set_index("contact")
    assert "liuyang@example.com" in email.index and email.loc["liuyang@example.com", "name"] == "刘洋"
    sms_rows = whole[whole.channel == "sms"]
    assert sms_rows.contact.str.fullmatch(r"(\+86)?139246813\d\d").all() and sms_rows.name.isna().all()
    assert {"winback.csv", "winback.parquet"} <= set(wb["files"])


def test_results_attribute_the_coupon_order_and_count_the_sends(nights):
    home, ids, _, _, sent, _, converter = nights
    attr = _query(home, "SELECT customer_id, campaign_id, method FROM marts.fct_campaign_attribution")
    assert attr.to_dict("records") == [{"customer_id": ids[converter], "campaign_id": "winback", "method": "coupon"}]
    res = _query(home, "SELECT * FROM marts.campaign_results WHERE campaign_id = 'winback'").iloc[0]
    assert (res.sent, res.converted, res.wave) == (len(sent), 1, 1)
    assert float(res.revenue) == 500.0


def test_uplift_over_the_holdout_once_the_window_has_closed(nights):
    home, _, first, _, sent, _, _ = nights
    treated = sum(1 for (c, _), r in first.items() if c == "winback" and r.decision == "included" and not r.is_holdout)
    holdout = sum(1 for (c, _), r in first.items() if c == "winback" and r.is_holdout)
    assert treated == len(sent)
    res = _query(home, "SELECT * FROM marts.campaign_results WHERE campaign_id = 'winback'").iloc[0]
    p1, p0 = 1 / treated, 1 / holdout  # the converter among the treated, one holdout person
    half = 1.96 * math.sqrt(p1 * (1 - p1) / treated + p0 * (1 - p0) / holdout)
    assert (res.treated, res.holdout) == (treated, holdout)
    assert res.treated_order_rate == pytest.approx(p1) and res.holdout_order_rate == pytest.approx(p0)
    assert res.uplift == pytest.approx(p1 - p0)
    assert (res.uplift_ci_low, res.uplift_ci_high) == (pytest.approx(p1 - p0 - half), pytest.approx(p1 - p0 + half))
    # the holdout order is nobody's campaign result: it had no coupon and no contact before it
    assert (res.converted, float(res.revenue)) == (1, 500.0)
    # margin above the holdout's: a holdout under incremental_min_holdout (30) gives no estimate, and says so
    assert holdout < 30 and pd.isna(res.incremental_margin) and pd.isna(res.incremental_roi)
    assert res.incremental_note.startswith(f"holdout too small: {holdout} held out")


def test_sql_models_see_the_policy_file_settings(nights):
    home = nights[0]
    pol = load_policy(home.parent / "campaigns")
    got = _query(home, "SELECT * FROM intermediate.int_contact__policy_settings", warehouse=True).iloc[0]
    assert (got.ledger_match_days, got.send_day_offset, got.max_campaigns_per_person_per_night) == (
        pol.ledger_match_days, pol.send_day_offset, pol.max_campaigns_per_person_per_night)


def test_wedding_anniversary_trigger_from_the_crm_extra_column(nights):
    home, ids = nights[0], nights[1]
    rows = _query(home, """SELECT customer_id, event_date::VARCHAR AS d FROM intermediate.int_activation__triggers
        WHERE trigger_type = 'wedding_anniversary'""", warehouse=True)
    # c4 married on 2015-06-20; as of the last night (06-17) the next anniversary is 2026-06-20
    assert rows.to_dict("records") == [{"customer_id": ids["c4"], "d": "2026-06-20"}]


def test_calendar_triggers_from_the_libraries_and_the_crm_lunar_birthday(nights):
    """The last night is 2026-06-17, so lists go out on 06-18 and the horizon (60 days) ends on 08-17.
    Festivals: 618 is the send date itself (days_until 0) for every person, customers and prospects alike
    (occurrence festival:shopping_618:2026); 中秋 (09-25) and 双11 lie beyond the horizon.
    Lunar birthdays: c5 gave 06-10 (六月初十), which lunardate puts on 2026-07-23 in lunar 2026; c6 gave
    1993-闰06-10, born in a leap sixth month: lunar 2026 has no leap month, so it is kept in the ordinary 六月,
    the same 2026-07-23. Neither gets a solar birthday row; c8's (07-14) and c10's (08-08) are in the horizon."""
    home, ids = nights[0], nights[1]
    rows = _query(home, """SELECT customer_id, trigger_type, occurrence_key, event_date::VARCHAR AS d, days_until,
            festival FROM intermediate.int_activation__triggers
        WHERE trigger_type IN ('festival', 'lunar_birthday', 'birthday')""", warehouse=True)
    people = _query(home, "SELECT customer_id FROM marts.dim_customer")
    fest = rows[rows.trigger_type == "festival"]
    assert sorted(fest.customer_id) == sorted(people.customer_id)
    assert set(zip(fest.festival, fest.occurrence_key, fest.d, fest.days_until, strict=True)) == {
        ("shopping_618", "festival:shopping_618:2026", "2026-06-18", 0)}
    lunar = rows[rows.trigger_type == "lunar_birthday"]
    assert dict(zip(lunar.customer_id, lunar.d, strict=True)) == {ids["c5"]: "2026-07-23", ids["c6"]: "2026-07-23"}
    assert set(lunar.days_until) == {35}
    solar = rows[rows.trigger_type == "birthday"]
    assert dict(zip(solar.customer_id, solar.d, strict=True)) == {ids["c8"]: "2026-07-14", ids["c10"]: "2026-08-08"}


def test_trigger_model_has_exactly_the_declared_columns(nights):
    home = nights[0]
    cols = _query(home, """SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'intermediate' AND table_name = 'int_activation__triggers'""", warehouse=True)
    assert set(cols.column_name) == {"customer_id", "order_source_system"} | set(TRIGGER_COLUMNS)


def test_the_audience_knows_who_responded_so_a_person_can_follow_them_up(nights):
    """The converter responded to winback's sms on 06-02 (of winback's people, only they did; c11 said he was
    interested on her call): on the last night (06-17) the audience says when, to which campaign and channel,
    and how many days ago (15), so a follow-up campaign (the shipped responder_followup: days_since_response
    between 0 and 7) can list them."""
    home, ids, _, _, _, _, converter = nights
    rows = _query(home, """SELECT customer_id, last_responded_at, last_response_campaign, last_response_channel,
            days_since_response FROM intermediate.int_activation__audience WHERE last_responded_at IS NOT NULL
            ORDER BY last_responded_at DESC""", warehouse=True)
    assert sorted(rows.customer_id) == sorted([ids[converter], ids["c11"]])
    row = rows.iloc[0]
    assert str(row.last_responded_at) == "2026-06-02 14:00:00"
    assert (row.last_response_campaign, row.last_response_channel, row.days_since_response) == ("winback", "sms", 15)


def _sheets(home, run_date):
    folder = home / "exports" / run_date / "call_sheets"
    return folder, {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def test_call_sheets_are_split_per_salesperson_and_store_and_carry_the_calls_context(nights):
    """Night 1's phone calls are the `call` campaign's four oven anniversaries (everyone else is reached by sms or
    email, or not at all). Each lands on the sheet of its home store and salesperson from the CRM: c11 (S2, E2),
    c12 (S2, nobody), c14 (S3, E3), c13 (no store) on no_store.csv. c11's row carries what the call needs:
    name and number (national, as dialled), why (campaign name, reason, trigger, wave and its message, offer),
    the oven bought on 2025-06-05 the anniversary is about, the last purchase (accessories on 2026-03-01), his
    segments, and empty columns to fill in. The manifest lists each sheet with its
    rows and checksum."""
    home, ids = nights[0], nights[1]
    folder, files = _sheets(home, NIGHTS[0])
    assert set(files) == {"README.md", *CALLED, *(rel.removesuffix(".csv") + ".xlsx" for rel in CALLED)}
    people = {rel: pd.read_csv(p, encoding="utf-8-sig", dtype=str).customer_id.tolist()
              for rel, p in files.items() if rel.endswith(".csv")}
    assert people == {"S2/E2.csv": [ids["c11"]], "S2/unassigned.csv": [ids["c12"]], "S3/E3.csv": [ids["c14"]],
                      "no_store.csv": [ids["c13"]]}
    row = pd.read_csv(files["S2/E2.csv"], encoding="utf-8-sig", dtype=str).iloc[0]
    assert (row["name"], row.phone, row.channel, row.campaign_id, row.campaign_name) == (
        "孙伟", "13924681361", "phone", "call", "call")
    assert (row.reason, row.trigger_type, row.trigger_date, row.wave, row.wave_name, row.message, row.offer_code) == (
        "included:call", "purchase_anniversary", "2026-06-05", "1", "first_call", "周年回访 烤箱保养", "OVEN1")
    assert (row.trigger_category, row.trigger_products, row.trigger_purchase_date, row.trigger_order_id) == (
        "厨电", "OVEN-11", "2025-06-05", "o11a")
    assert (row.last_purchase_date, row.last_purchase_categories, row.last_purchase_products) == (
        "2026-03-01", "配件", "ACC-11")
    # the segments of night 1 (the warehouse now holds night 3's): a customer has a tier, a grade and a stage
    assert pd.notna(row.value_tier) and row.grade in ("A", "B", "C", "D")
    assert row.lifecycle_stage in ("new", "active", "dormant", "lost", "won_back")
    assert pd.isna(row.last_contact_at)  # nobody had contacted him before
    assert row[["outcome", "called_at", "order_id", "note"]].isna().all()
    manifest = json.loads((home / "exports" / NIGHTS[0] / "manifest.json").read_text(encoding="utf-8"))
    listed = {s["file"]: s for s in manifest["call_sheets"]["sheets"]}
    assert set(listed) == {f"call_sheets/{rel}" for rel in CALLED}
    for rel in CALLED:
        assert listed[f"call_sheets/{rel}"]["rows"] == 1
        assert listed[f"call_sheets/{rel}"]["sha256"] == hashlib.sha256(files[rel].read_bytes()).hexdigest()
    assert manifest["call_sheets"]["calls"] == 4 and manifest["call_sheets"]["rows_missing_context"] == {}
    assert manifest["call_sheets"]["calls_missing_context"] == 0
    summary = _query(home, f"SELECT summary FROM meta.nights WHERE as_of = DATE '{NIGHTS[0]}'", warehouse=True)
    assert not any(n.startswith("call sheets:") for n in json.loads(summary.summary.iloc[0])["notes"])


def test_a_filled_call_sheet_is_the_calls_outcome_the_next_night(nights):
    """The sheets came back into contacts/ after night 1. c12 said 退订: a do-not-contact for her and her number,
    so night 2's `later` leaves her out (excluded:do_not_contact, not just no_sms_consent). c11 was interested:
    the call counts in `call`'s results as sent, delivered and responded (c12's call was delivered too), and in
    the contact ledger once (the plan of night 1, which the reported call matches), not twice. c13's sheet has
    an outcome no one knows: held in the quarantine with its file, line and value, not a contact (its plan stays:
    nobody said the call was not made). c14's salesperson left the outcome empty, saying the call was not made:
    the row is held as "not called" (still in the quarantine with its file and line), and that frees night 1's
    plan. So the ledger does not count it (no cap used, no wave done) and night 2 plans c14's anniversary call
    again (his anniversary, 06-08, is still within the 14 days ahead of 06-03): night 3's ledger has c14 once,
    the plan of night 2 (its sheet never came back, so that call is assumed made, as every exported plan is).
    Before, night 1's plan stayed `planned`, the wave counted as done and the call never came back. The night's
    summary says both held rows."""
    home, ids, _, second = nights[:4]
    assert second[("later", "c12")].reason == "excluded:do_not_contact"
    assert second[("later", "c11")].reason == "excluded:no_sms_consent"
    bound = _query(home, """SELECT address_key FROM intermediate.int_contact__consent_events
        WHERE status = 'do_not_contact' AND address_key IS NOT NULL""", warehouse=True)
    assert "+8613924681362" in set(bound.address_key)
    res = _query(home, "SELECT * FROM marts.campaign_results WHERE campaign_id = 'call'").iloc[0]
    assert (res.sent, res.delivered, res.responded) == (2, 2, 1)
    ledger = _query(home, """SELECT customer_id, source, strftime(contact_date, '%Y-%m-%d') AS day
        FROM intermediate.int_contact__ledger WHERE campaign_id = 'call' ORDER BY customer_id""", warehouse=True)
    assert sorted(zip(ledger.customer_id, ledger.source, ledger.day, strict=True)) == sorted(
        [(ids[w], "planned", "2026-06-02") for w in ("c11", "c12", "c13")]
        + [(ids["c14"], "planned", "2026-06-03")])  # one row each; c14's is night 2's plan, night 1's was freed
    assert second[("call", "c14")].reason == "included:call"
    assert second[("call", "c11")].reason == "excluded:waves_complete"  # a call made is a wave done
    held = _query(home, """SELECT path, line, value, reason FROM meta.quarantine
        WHERE source = 'contacts' AND action = 'row_held' ORDER BY path""", warehouse=True)
    assert held.path.tolist() == ["contacts/calls_S3_E3.csv", "contacts/calls_no_store.csv"]
    assert held.line.tolist() == [2, 2] and pd.isna(held.value.iloc[0]) and held.value.iloc[1] == "回头再说"
    assert held.reason.iloc[0].startswith("not called") and held.reason.iloc[1].startswith("unknown call outcome")
    summary = _query(home, f"SELECT summary FROM meta.nights WHERE as_of = DATE '{NIGHTS[1]}'", warehouse=True)
    notes = json.loads(summary.summary.iloc[0])["notes"]
    assert ("call sheet contacts/calls_S3_E3.csv: 1 row(s) not called (outcome empty; not counted as contacts, "
            "their plans freed)") in notes
    assert any(n.startswith("call sheet contacts/calls_no_store.csv: 1 row(s) with an unknown outcome") for n in notes)


def test_lists_why_says_included_excluded_and_the_audience_clause_that_failed(nights, capsys):
    """Night 1 (test_first_night_reasons): c1 is on bday's list (sms) and so excluded:lower_priority from
    winback; acq's audience is `customer_status = 'prospect'`, which c1, a customer, fails; c2's birthday is
    01-20, so bday (7 days ahead of 06-02) has no occasion for her, nor call (an oven's first anniversary) for
    c1, who bought no oven. On the last night (06-17) c1 is still a customer, found by a phone written with
    dashes as the loader would read it."""
    assert nights and WHY_NIGHT1, "the fixture answers for night 1"
    bday = WHY_NIGHT1[("c1", "bday")]
    assert bday.outcome == "included" and bday.why.startswith("sms; wave 1") and "included:bday" in bday.why
    assert (WHY_NIGHT1[("c1", "winback")].outcome, WHY_NIGHT1[("c1", "winback")].why) == (
        "excluded", "excluded:lower_priority; tonight's higher-priority campaign bday")
    assert (WHY_NIGHT1[("c1", "acq")].outcome, WHY_NIGHT1[("c1", "acq")].why) == (
        "not a candidate", "audience: `customer_status = 'prospect'` is false (customer_status=customer)")
    assert WHY_NIGHT1[("c2", "bday")].why == "no birthday occasion in the window"
    assert WHY_NIGHT1[("c1", "call")].why == "no purchase_anniversary occasion in the window"
    assert {c for _, c in WHY_NIGHT1} == set(CAMPAIGNS)
    assert main(["lists", "why", "139-2468-1351", "--home", str(nights[0])]) == 0
    out = capsys.readouterr().out
    assert f"Lists of the night of {NIGHTS[-1]}" in out
    acq = [line for line in out.splitlines() if " acq " in line]
    assert len(acq) == 1 and "`customer_status = 'prospect'` is false (customer_status=customer)" in acq[0]
