"""Two nights of the whole job with hand-made campaigns: lists out, contacts back, the next night obeys them.

Landing zone: six store customers c1..c6 who last bought in 2025, and a purchased list (sms only,
until 2026-12-31) with two prospects. Campaign folder (tmp): the repo's contact policy and
  bday     priority 90, birthday 7 days ahead, sms (c1's birthday is 06-05);
  winback  priority 50, every customer, sms then email, one wave, holdout 30%;
  later    priority 10, every customer, sms;
  acq      priority 20, prospects, phone then sms (the list permits only sms).
c2 withdrew sms consent on 05-01, so winback reaches her by email.

Night 1 (2026-06-01, lists for 06-02). Contacts come back for winback's sends (the holdout, fixed by
a hash, is not sent): the first person sent an sms opts out; the second orders on 06-02 with the
coupon WB10. Night 2 (2026-06-02): winback's one wave is done, so `later` gets everyone: the
opted-out person is suppressed, the people sms'd on night 1 hit the 1-in-7-days sms cap, the
holdout (never contacted) is free, and c2 has no sms consent. Night 3 (2026-06-17): the 14-day
window after night 1's sends has closed; one holdout person ordered meanwhile (no coupon), so
winback's uplift is 1/treated - 1/holdout.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil

import duckdb
import pandas as pd
import pytest

from bullseye.activation.campaigns import AUDIENCE_COLUMNS, load_policy
from bullseye.activation.policy import holdout_draw
from bullseye.cli import main
from bullseye.config import PROJECT_ROOT
from tests.conftest import write

pytestmark = pytest.mark.slow

CRM = """source_customer_id,name,phone,email,birth_date,store_id,employee_id,joined_at,wedding_date
c1,王芳,13924681351,,1990-06-05,S1,E1,2024-01-01,
c2,刘洋,13924681352,liuyang@example.com,1985-01-20,S1,E1,2024-01-01,
c3,陈静,13924681353,,1982-02-02,S1,E1,2024-01-01,
c4,杨磊,13924681354,,1979-03-03,S1,E1,2024-01-01,2015-06-20
c5,赵敏,13924681355,,1991-04-04,S1,E1,2024-01-01,
c6,黄强,13924681356,,1993-09-09,S1,E1,2024-01-01,
"""
ORDERS = "order_id,source_customer_id,order_ts,amount\n" + "".join(
    f"o{i},c{i},2025-0{i}-10 12:00:00,{100 * i}\n" for i in range(1, 7))
LIST = """list_record_id,name,phone,province
R1,孙丽,13712345671,广东
R2,周杰,13787654322,广东
"""
MANIFEST = {"list_id": "fair", "vendor": "博览会", "acquired_at": "2026-05-01", "legal_basis": "fair consent",
            "permitted_channels": ["sms"], "expires_at": "2026-12-31", "cost": 100}
CONSENTS = "ts,channel,status,phone\n2026-05-01 10:00:00,sms,withdrawn,13924681352\n"
CAMPAIGNS = {
    "bday": "trigger: {type: birthday, days_ahead: 7}\naudience: is_customer\nchannels: [sms]\npriority: 90\n",
    "winback": "audience: is_customer\nchannels: [sms, email]\npriority: 50\nholdout_share: 0.3\n"
               "offer: {code: WB10}\n",
    "later": "audience: is_customer\nchannels: [sms]\npriority: 10\n",
    "acq": "audience: customer_status = 'prospect'\nchannels: [phone, sms]\npriority: 20\nobjective: acquire\n",
}
NIGHTS = ["2026-06-01", "2026-06-02", "2026-06-17"]


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
    df = _query(home, f"""SELECT d.campaign_id, m.source_record_id, d.channel, d.decision, d.reason, d.is_holdout
        FROM marts.contact_decisions d JOIN marts.customer_identity_map m USING (customer_id)
        WHERE d.run_date = DATE '{run_date}'""")
    df["who"] = df.source_record_id.str.split(":").str[-1]
    return {(r.campaign_id, r.who): r for r in df.itertuples(index=False)}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("activation")
    land, home, camps = root / "land", root / "home", root / "campaigns"
    camps.mkdir()
    _campaigns(camps)
    write(land / "crm_customers" / "crm.csv", CRM)
    write(land / "orders" / "orders.csv", ORDERS)
    write(land / "lists" / "fair" / "records.csv", LIST)
    write(land / "lists" / "fair" / "manifest.json", json.dumps(MANIFEST, ensure_ascii=False))
    write(land / "consents" / "consents.csv", CONSENTS)
    args = ["run", "--landing", str(land), "--home", str(home), "--campaigns", str(camps)]
    assert main([*args, "--as-of", NIGHTS[0]]) == 0
    first = _decisions(home, NIGHTS[0])
    ids = _query(home, """SELECT split_part(source_record_id, ':', 2) AS who, customer_id
        FROM marts.customer_identity_map WHERE source = 'crm_customers'""").set_index("who").customer_id.to_dict()
    who_of = {v: k for k, v in ids.items()}
    sent = _query(home, f"""SELECT customer_id, channel FROM marts.target_lists
        WHERE run_date = DATE '{NIGHTS[0]}' AND campaign_id = 'winback' AND NOT is_holdout ORDER BY customer_id""")
    sent["who"] = sent.customer_id.map(who_of)
    by_sms = sorted(sent[sent.channel == "sms"].who)
    assert len(by_sms) >= 2, sent  # the fixture needs one sms person to opt out and one to convert
    opted_out, converter = by_sms[0], by_sms[1]
    rows = ["contact_id,campaign_id,channel,sent_at,customer_id,delivered,coupon_code,opt_out"]
    for i, r in enumerate(sent.itertuples(index=False)):
        rows.append(f"k{i},winback,{r.channel},2026-06-02 09:30:00,{r.customer_id},true,WB10,"
                    f"{'true' if r.who == opted_out else 'false'}")
    write(land / "contacts" / "night1.csv", "\n".join(rows) + "\n")
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
    extra = {"phone", "email", "wechat_unionid", "address", "household_key"}
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


def test_exports_carry_channel_fields_manifest_and_diff(nights):
    home = nights[0]
    out = home / "exports" / NIGHTS[1]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    later = next(c for c in manifest["campaigns"] if c["campaign_id"] == "later")
    assert later["definition_sha256"] == hashlib.sha256(
        (home.parent / "campaigns" / "later.yml").read_bytes()).hexdigest()
    assert later["counts_by_reason"]["excluded:do_not_contact"] == 1
    winback = next(c for c in manifest["campaigns"] if c["campaign_id"] == "winback")
    assert winback["included"] == 0
    # night 1's winback list is gone tonight: every person removed, with tonight's reason
    changes = (out / "winback__changes.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(changes) == 1 + 5 and all(",removed,excluded:waves_complete," in line for line in changes[1:])
    first = json.loads((home / "exports" / NIGHTS[0] / "manifest.json").read_text(encoding="utf-8"))
    wb = next(c for c in first["campaigns"] if c["campaign_id"] == "winback")
    sms = (home / "exports" / NIGHTS[0] / "winback__sms.csv").read_text(encoding="utf-8-sig").splitlines()
    assert sms[0].startswith("customer_id,phone,send_after,send_before") and "email" not in sms[0]
    assert wb["exported"] == wb["included"] - wb["holdout"]
    assert all(line.split(",")[-2] == "WB10" for line in sms[1:])
    # one file per campaign: everyone exported, each row with its own channel's contact only
    whole = pd.read_csv(home / "exports" / NIGHTS[0] / "winback.csv", encoding="utf-8-sig", dtype=str)
    assert len(whole) == wb["exported"] and set(whole.columns) >= {"customer_id", "channel", "name", "contact"}
    by_channel = whole.set_index("channel")
    assert by_channel.loc["email", "contact"] == "liuyang@example.com" and by_channel.loc["email", "name"] == "刘洋"
    sms_rows = whole[whole.channel == "sms"]
    assert sms_rows.contact.str.fullmatch(r"\+86139246813\d\d").all() and sms_rows.name.isna().all()
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
