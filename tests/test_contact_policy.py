"""Every contact-policy rule on a small hand-made world whose answer is known (bullseye.activation.policy)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bullseye.activation.campaigns import CampaignError
from bullseye.activation.policy import holdout_draw
from tests.activation_kit import campaign, decision, person, plan, policy, world


def test_latest_consent_event_wins_per_channel():
    con = world([person("C1"), person("C2")],
                consents=[("C1", "sms", "withdrawn", "2026-03-01"), ("C1", "sms", "granted", "2026-05-01"),
                          ("C2", "sms", "granted", "2026-03-01"), ("C2", "sms", "withdrawn", "2026-05-01")])
    df = plan(con, [campaign("aa")])
    assert decision(df, "C1")["reason"] == "included:aa"
    assert decision(df, "C2")["reason"] == "excluded:no_sms_consent"


def test_withdrawn_channel_falls_back_to_the_next_channel_in_preference():
    con = world([person("C1")], consents=[("C1", "sms", "withdrawn", "2026-05-01")])
    d = decision(plan(con, [campaign("aa", channels=["sms", "email"])]), "C1")
    assert (d["decision"], d["channel"]) == ("included", "email")
    assert "sms: excluded:no_sms_consent" in d["detail"]


def test_do_not_contact_and_complaint_suppress_every_channel():
    con = world([person("C1"), person("C2"), person("C3")],
                consents=[("C1", "all", "do_not_contact", "2026-05-01"),
                          # a complaint arrives as do_not_contact on 'all'; a later sms grant does not lift it
                          ("C2", "all", "do_not_contact", "2026-04-01"), ("C2", "sms", "granted", "2026-05-01"),
                          # a DNC asked on one channel still stops every channel
                          ("C3", "phone", "do_not_contact", "2026-05-01")])
    df = plan(con, [campaign("aa", channels=["sms", "email", "mail"])])
    for cid in ("C1", "C2", "C3"):
        assert decision(df, cid)["reason"] == "excluded:do_not_contact", cid


def test_purchased_list_contacts_only_on_permitted_channels_until_expiry():
    people = [person("P1", "prospect"), person("P2", "prospect"), person("P3", "prospect"), person("P4", "prospect")]
    con = world(people, lists=[("P1", "fair", ["sms"], date(2026, 12, 31)),
                               ("P2", "fair_old", ["sms"], date(2026, 6, 1)),  # expires the day before the send
                               ("P3", "mail_only", ["mail"], date(2026, 12, 31)),
                               ("P4", "fair", ["sms"], date(2026, 12, 31))],
                consents=[("P4", "sms", "withdrawn", "2026-05-20")])  # the person objected
    df = plan(con, [campaign("aa", objective="acquire")])
    assert decision(df, "P1")["reason"] == "included:aa"
    assert decision(df, "P1")["legal_basis"] == "list_licence:consent_with_transfer"
    assert decision(df, "P2")["reason"] == "excluded:list_expired"
    assert decision(df, "P3")["reason"] == "excluded:list_channel_not_permitted"
    assert decision(df, "P4")["reason"] == "excluded:no_sms_consent"


def test_missing_contact_field_is_a_reason():
    con = world([person("C1", phone=None)])
    assert decision(plan(con, [campaign("aa")]), "C1")["reason"] == "excluded:no_phone"


def test_frequency_caps_count_sent_contacts_and_earlier_plans():
    # Policy: total 2 in 7 days, sms 1 in 7 days. Send date 2026-06-02.
    con = world([person("C1"), person("C2"), person("C3"), person("C4")],
                contacts=[("C1", "x", "email", "2026-05-30 10:00"), ("C1", "y", "email", "2026-05-31 10:00"),
                          ("C2", "x", "sms", "2026-05-29 10:00"),
                          ("C4", "x", "sms", "2026-05-20 10:00")],  # outside the 7 days
                plans=[(date(2026, 5, 31), "zz", "C3", "sms", "zz", 1, False)])  # planned last night, not back yet
    df = plan(con, [campaign("aa")])
    assert decision(df, "C1")["reason"] == "excluded:cap_7d"
    assert decision(df, "C2")["reason"] == "excluded:cap_7d_sms"
    assert decision(df, "C3")["reason"] == "excluded:cap_7d_sms"
    assert decision(df, "C4")["reason"] == "included:aa"


def test_a_sent_contact_matching_a_plan_is_not_counted_twice():
    # One email planned for 05-25 and reported sent on 05-26 is one contact: a 30-day email cap of 2 has room.
    con = world([person("C1")], contacts=[("C1", "zz", "email", "2026-05-26 10:00")],
                plans=[(date(2026, 5, 25), "zz", "C1", "email", "zz", 1, False)])
    df = plan(con, [campaign("aa", channels=["email"])], policy(caps={"email": {30: 2}}))
    assert decision(df, "C1")["reason"] == "included:aa"
    n = con.execute("SELECT count(*) FROM ledger WHERE counts_toward_caps").fetchall()[0][0]
    assert n == 1


def test_holdout_plans_do_not_count_toward_caps():
    con = world([person("C1")], plans=[(date(2026, 5, 31), "zz", "C1", "sms", "zz", 1, True)])
    assert decision(plan(con, [campaign("aa")]), "C1")["reason"] == "included:aa"


def test_one_campaign_per_person_per_night_by_priority():
    con = world([person("C1"), person("C2", lifecycle_stage="lost")])
    hi = campaign("hi", priority=90, audience="lifecycle_stage = 'dormant'")
    lo = campaign("lo", priority=10)
    df = plan(con, [lo, hi])
    assert decision(df, "C1", "hi")["reason"] == "included:hi"
    d = decision(df, "C1", "lo")
    assert d["reason"] == "excluded:lower_priority" and "hi" in d["detail"]
    assert decision(df, "C2", "lo")["reason"] == "included:lo"


def test_caps_count_what_higher_priority_campaigns_planned_tonight():
    # With two campaigns a night allowed, the sms cap of 1 in 7 days still stops the second sms tonight.
    con = world([person("C1")])
    df = plan(con, [campaign("hi", priority=90), campaign("lo", priority=10)],
              policy(max_campaigns_per_person_per_night=2))
    assert decision(df, "C1", "hi")["reason"] == "included:hi"
    assert decision(df, "C1", "lo")["reason"] == "excluded:cap_7d_sms"


def test_one_piece_of_mail_per_household():
    same = "hh-1"
    con = world([person("C1", household_key=same, response_propensity=0.9),
                 person("C2", household_key=same, response_propensity=0.1), person("C3", household_key="hh-2")])
    df = plan(con, [campaign("aa", channels=["mail"])])
    assert decision(df, "C1")["reason"] == "included:aa"  # the better-ranked member of the household
    assert decision(df, "C2")["reason"] == "excluded:household_mail"
    assert decision(df, "C3")["reason"] == "included:aa"


def test_blackout_date_closes_the_channel_and_quiet_hours_set_the_send_window():
    con = world([person("C1")])
    # Send date 2026-10-02 is a phone blackout in the kit's policy.
    df = plan(con, [campaign("aa", channels=["phone", "sms"], send_window=["10:00", "12:00"])],
              run_date=date(2026, 10, 1))
    d = decision(df, "C1")
    assert d["channel"] == "sms" and "phone: excluded:blackout_phone" in d["detail"]
    assert str(d["send_after"]) == "2026-10-02 10:00:00" and str(d["send_before"]) == "2026-10-02 12:00:00"


def test_list_cap_keeps_the_best_ranked_and_frees_the_rest_for_other_campaigns():
    people = [person(f"C{i}", response_propensity=i / 10) for i in range(1, 5)]
    con = world(people)
    df = plan(con, [campaign("hi", priority=90, max_list_size=2), campaign("lo", priority=10)])
    assert sorted(df[(df.campaign_id == "hi") & (df.decision == "included")].customer_id) == ["C3", "C4"]
    assert decision(df, "C1", "hi")["reason"] == "excluded:over_list_cap"
    assert decision(df, "C1", "lo")["reason"] == "included:lo"


def test_holdout_is_stable_across_nights_and_close_to_its_share():
    people = [person(f"C{i:04d}") for i in range(2000)]
    c = campaign("aa", holdout_share=0.2)
    first = plan(world(people), [c]).set_index("customer_id").is_holdout
    second = plan(world(people), [c], run_date=date(2026, 6, 9)).set_index("customer_id").is_holdout
    assert (first == second).all()
    assert 0.17 < first.mean() < 0.23
    assert first["C0007"] == (holdout_draw("aa", "C0007") < 0.2)


def test_waves_follow_their_gaps_and_end():
    waves = [{"name": "brand"}, {"name": "product", "after_days": 7}]
    c = campaign("aa", waves=waves)
    con = world([person("C1"), person("C2"), person("C3")],
                plans=[(date(2026, 5, 30), "aa", "C1", "sms", "aa", 1, False),   # 3 days ago: wave 2 not due
                       (date(2026, 5, 20), "aa", "C2", "email", "aa", 1, True),   # holdout also moves on
                       (date(2026, 5, 1), "aa", "C3", "sms", "aa", 1, False),
                       (date(2026, 5, 10), "aa", "C3", "sms", "aa", 2, False)])
    df = plan(con, [c])
    assert decision(df, "C1")["reason"] == "excluded:wave_not_due"
    d = decision(df, "C2")
    assert (d["reason"], d["wave"], d["wave_name"]) == ("included:aa", 2, "product")
    assert decision(df, "C3")["reason"] == "excluded:waves_complete"


def test_trigger_campaign_takes_occasions_in_its_window():
    trig = [{"customer_id": "C1", "trigger_type": "birthday", "occurrence_key": "birthday:C1:2026-06-05",
             "event_date": date(2026, 6, 5), "days_until": 4},
            {"customer_id": "C2", "trigger_type": "birthday", "occurrence_key": "birthday:C2:2026-07-05",
             "event_date": date(2026, 7, 5), "days_until": 34},
            {"customer_id": "C3", "trigger_type": "purchase_anniversary", "occurrence_key": "pa:o1:大家电:3",
             "event_date": date(2026, 6, 10), "days_until": 9, "category": "大家电", "years": 3}]
    con = world([person("C1"), person("C2"), person("C3")], triggers=trig)
    bday = campaign("bday", trigger={"type": "birthday", "days_ahead": 7})
    anniv = campaign("anniv", trigger={"type": "purchase_anniversary", "days_ahead": 14, "years": [3, 5, 8],
                                       "categories": ["大家电"]}, audience="years >= 3")
    df = plan(con, [bday, anniv], policy(max_campaigns_per_person_per_night=2))
    assert set(df[df.campaign_id == "bday"].customer_id) == {"C1"}
    assert decision(df, "C1", "bday")["occurrence_key"] == "birthday:C1:2026-06-05"
    assert set(df[df.campaign_id == "anniv"].customer_id) == {"C3"}


def test_campaign_outside_its_dates_plans_nothing():
    con = world([person("C1")])
    assert plan(con, [campaign("aa", start="2026-07-01", end="2026-07-31")]).empty


@pytest.mark.parametrize("status,expected", [("customer", "included:aa"), ("lead", "excluded:no_email_consent")])
def test_default_consent_follows_the_persons_status(status, expected):
    con = world([person("C1", status)])
    assert decision(plan(con, [campaign("aa", channels=["email"])]), "C1")["reason"] == expected


# --- issue 13: an address binds whoever carries it; caps per address; purpose and basis; minors; SMS ---

SHARED = "+8613900000001"


def test_a_do_not_contact_for_a_shared_number_binds_everyone_who_carries_it():
    # Case 1: C1 and C2 share a number; a do-not-contact was given for the number (nobody knows whose).
    people = [person("C1", phone=SHARED), person("C2", phone=SHARED), person("C3")]
    con = world(people, address_consents=[("phone", SHARED, "all", "do_not_contact", "2026-05-01")])
    df = plan(con, [campaign("aa", channels=["sms", "phone"]), campaign("bb", channels=["sms", "email"],
                                                                        priority=5)],
              policy(max_campaigns_per_person_per_night=2))
    for cid in ("C1", "C2"):
        d = decision(df, cid, "aa")
        assert d["reason"] == "excluded:phone_do_not_contact", d
        assert "sms: excluded:phone_do_not_contact; phone: excluded:phone_do_not_contact" == d["detail"]
        assert decision(df, cid, "bb")["channel"] == "email"  # the number is closed, not the person
    assert decision(df, "C3", "aa")["reason"] == "included:aa"


def test_an_address_withdrawal_closes_its_channel_and_a_later_address_grant_reopens_it():
    people = [person("C1", phone=SHARED, email=None), person("C2", phone=SHARED, email=None),
              person("C3", phone=None, email="x@a.cn"), person("C4", phone=None, email="x@a.cn")]
    con = world(people, address_consents=[("phone", SHARED, "sms", "withdrawn", "2026-05-01"),
                                          ("email", "x@a.cn", "all", "do_not_contact", "2026-04-01"),
                                          ("email", "x@a.cn", "all", "granted", "2026-05-01")])
    df = plan(con, [campaign("aa", channels=["sms", "phone"]), campaign("bb", channels=["email"], priority=5)])
    d = decision(df, "C1", "aa")  # sms closed on the number, the phone channel still open
    assert (d["channel"], d["reason"]) == ("phone", "included:aa")
    assert d["detail"].endswith("passed over sms: excluded:phone_no_sms_consent")
    d = decision(df, "C2", "aa")  # the same number, already called tonight for C1
    assert d["detail"] == "sms: excluded:phone_no_sms_consent; phone: excluded:phone_taken_tonight"
    # the grant on 'all' for the email lifted its earlier do-not-contact; one email to it tonight
    assert decision(df, "C3", "bb")["reason"] == "included:bb"
    assert decision(df, "C4", "bb")["reason"] == "excluded:email_taken_tonight"


def test_a_person_do_not_contact_still_stops_every_channel_and_binds_nobody_else():
    people = [person("C1", phone=SHARED), person("C2", phone=SHARED)]
    con = world(people, consents=[("C1", "all", "do_not_contact", "2026-05-01")])
    df = plan(con, [campaign("aa", channels=["sms", "email"])])
    assert decision(df, "C1")["reason"] == "excluded:do_not_contact"
    assert decision(df, "C2")["reason"] == "included:aa"


def test_one_number_gets_one_message_a_night_and_its_caps_count_every_carrier():
    # Case 2: C1 and C2 share a number: one sms tonight, the other falls to email. C3 and C4 share a
    # number that was sent an sms two days ago, to C3 (a plan) -> C4 is at the number's 7-day sms cap.
    # C5 and C6 share a number whose last sms names only the number (no person) -> both at the cap.
    n2, n3 = "+8613900000002", "+8613900000003"
    people = [person("C1", phone=SHARED, response_propensity=0.9), person("C2", phone=SHARED),
              person("C3", phone=n2), person("C4", phone=n2),
              person("C5", phone=n3), person("C6", phone=n3)]
    con = world(people, plans=[(date(2026, 5, 31), "zz", "C3", "sms", "zz", 1, False)],
                contacts=[(None, "ext", "sms", "2026-05-30 10:00", n3)])
    df = plan(con, [campaign("aa", channels=["sms", "email"])])
    assert decision(df, "C1")["channel"] == "sms"
    d = decision(df, "C2")
    assert d["channel"] == "email" and "sms: excluded:phone_taken_tonight" in d["detail"]
    assert "sms: excluded:cap_7d_sms" in decision(df, "C3")["detail"]
    assert "sms: excluded:phone_cap_7d_sms" in decision(df, "C4")["detail"]
    for cid in ("C5", "C6"):
        assert "sms: excluded:phone_cap_7d_sms" in decision(df, cid)["detail"], cid
    sms_numbers = [p["phone"] for p in people if decision(df, p["customer_id"])["channel"] == "sms"
                   and decision(df, p["customer_id"])["decision"] == "included"]
    assert len(sms_numbers) == len(set(sms_numbers)) == 1


def test_a_sent_contact_known_only_by_its_number_is_the_plan_that_sent_to_that_number():
    # C1 and C2 share a number; last night's plan sent C1 an sms, and the gateway reports it by number only.
    con = world([person("C1", phone=SHARED), person("C2", phone=SHARED)],
                plans=[(date(2026, 5, 25), "zz", "C1", "sms", "zz", 1, False)],
                contacts=[(None, "zz", "sms", "2026-05-25 10:00", SHARED)])
    plan(con, [campaign("aa")], policy(caps={"sms": {30: 2}}))
    rows = con.execute("SELECT source FROM ledger WHERE counts_toward_caps ORDER BY ALL").fetchall()
    assert rows == [("planned",)]


def test_the_shipped_policy_opens_no_channel_for_marketing_without_consent():
    # Case 6: with the repo's policy a customer without a recorded consent gets no marketing; service relies on
    # the contract; a recorded grant is the basis; every included row says which.
    from bullseye.activation.campaigns import load_policy
    from bullseye.config import PROJECT_ROOT

    shipped = load_policy(PROJECT_ROOT / "campaigns")
    assert shipped.open_without_consent["marketing"] == {}
    con = world([person("C1"), person("C2"), person("L1", "lead")],
                consents=[("C2", "sms", "granted", "2026-03-01")])
    mk = campaign("mk", channels=["sms", "email"])
    sv = campaign("sv", channels=["sms"], purpose="service", priority=5)
    df = plan(con, [mk, sv], shipped)
    d = decision(df, "C1", "mk")
    assert d["reason"] == "excluded:no_sms_consent" and d["purpose"] == "marketing"
    assert decision(df, "C1", "sv")["legal_basis"] == "contract"
    d = decision(df, "C2", "mk")
    assert (d["reason"], d["legal_basis"], d["purpose"]) == ("included:mk", "consent", "marketing")
    assert decision(df, "L1", "sv")["reason"] == "excluded:no_sms_consent"  # a lead has no contract to serve
    assert set(df[df.decision == "included"].legal_basis) <= {"consent", "contract"}


def test_an_operator_opens_a_channel_for_marketing_by_naming_its_basis():
    pol = policy(open_without_consent={"marketing": {"customer": {"mail": "contract"}}})
    df = plan(world([person("C1")]), [campaign("aa", channels=["sms", "mail"])], pol)
    d = decision(df, "C1")
    assert (d["channel"], d["legal_basis"]) == ("mail", "contract")
    assert "sms: excluded:no_sms_consent" in d["detail"]


@pytest.mark.parametrize("setting,message", [
    ({"open_without_consent": {"marketing": {"customer": {"sms": "consent"}}}},
     "open_without_consent.marketing.customer.sms: basis 'consent' must be one of contract"),
    ({"open_without_consent": {"promo": {}}}, "unknown purpose 'promo'"),
    ({"default_consent": {"customer": ["sms"]}}, "default_consent is no longer read"),
    ({"sms_signature": "Brand"}, "sms_signature 'Brand' must be the sender's name in 【】"),
    ({"sms_opt_out_text": "reply"}, "sms_opt_out_text 'reply' must tell how to refuse"),
    ({"marketing_min_age": 12}, "marketing_min_age '12' must be a whole number of at least 14"),
])
def test_policy_legal_settings_are_checked(setting, message):
    from bullseye.activation.campaigns import CampaignError

    with pytest.raises(CampaignError, match=message.replace("(", r"\(").replace("[", r"\[")):
        policy(**setting)


def test_a_wave_may_be_service_while_its_campaign_is_marketing():
    waves = [{"name": "safety_check", "purpose": "service"}, {"name": "trade_in", "after_days": 7}]
    c = campaign("aa", waves=waves, purpose="marketing")
    pol = policy(open_without_consent={"service": {"customer": {"sms": "contract"}}})
    con = world([person("C1"), person("C2")], plans=[(date(2026, 5, 1), "aa", "C2", "sms", "aa", 1, False)])
    df = plan(con, [c], pol)
    d1, d2 = decision(df, "C1"), decision(df, "C2")
    assert (d1["reason"], d1["purpose"], d1["legal_basis"]) == ("included:aa", "service", "contract")
    assert (d2["reason"], d2["purpose"], d2["wave"]) == ("excluded:no_sms_consent", "marketing", 2)


def test_a_list_licence_counts_only_with_a_basis_the_policy_accepts():
    people = [person("P1", "prospect"), person("P2", "prospect")]
    lists = [("P1", "ok", ["sms"], date(2026, 12, 31), "consent_with_transfer"),
             ("P2", "pub", ["sms"], date(2026, 12, 31), "public")]
    df = plan(world(people, lists=lists), [campaign("aa", objective="acquire")])
    assert decision(df, "P1")["legal_basis"] == "list_licence:consent_with_transfer"
    assert decision(df, "P2")["reason"] == "excluded:list_basis_not_accepted"
    df = plan(world(people, lists=lists), [campaign("aa", objective="acquire")],
              policy(list_licence_bases=["consent_with_transfer", "public"]))
    assert decision(df, "P2")["legal_basis"] == "list_licence:public"


def test_children_under_14_are_never_on_a_marketing_list():
    people = [person("C1", age=13), person("C2", age=14), person("C3", age=None)]
    df = plan(world(people), [campaign("mk"), campaign("sv", purpose="service", priority=5)],
              policy(max_campaigns_per_person_per_night=2, caps={}))
    assert decision(df, "C1", "mk")["reason"] == "excluded:minor"
    assert decision(df, "C1", "sv")["reason"] == "included:sv"  # a service step of their own contract
    assert decision(df, "C2", "mk")["reason"] == "included:mk"
    assert decision(df, "C3", "mk")["reason"] == "included:mk"
    df = plan(world(people), [campaign("mk")], policy(marketing_unknown_age="exclude"))
    assert decision(df, "C3", "mk")["reason"] == "excluded:unknown_age"


def test_sms_rows_carry_the_signature_and_opt_out_text():
    df = plan(world([person("C1"), person("C2")], consents=[("C2", "sms", "withdrawn", "2026-05-01")]),
              [campaign("aa", channels=["sms", "email"])])
    d1, d2 = decision(df, "C1"), decision(df, "C2")
    assert (d1["channel"], d1["sms_signature"], d1["sms_opt_out_text"]) == ("sms", "【靶心】", "回T退订")
    assert d2["channel"] == "email" and pd.isna(d2["sms_signature"]) and pd.isna(d2["sms_opt_out_text"])


def test_a_second_dormancy_starts_the_waves_again_and_the_first_stays_complete():
    """Waves belong to an episode: for a campaign without a trigger, the day the person entered their
    lifecycle stage (stage_since). C1 got both waves in the dormancy that began 2026-01-10 and fell dormant
    again on 2026-05-20: a new episode, so wave 1 again. C2 is still in the dormancy whose two waves were
    sent: complete. Waves planned before episodes were keyed by the campaign id alone ("aa"): they count for
    the episode they were sent in, so C3 (sent in February, before the dormancy of 2026-05-20) starts again,
    and C4 (sent after that day) is complete: an upgrade never re-sends wave 1 within one dormancy."""
    waves = [{"name": "brand"}, {"name": "product", "after_days": 7}]
    first, second = date(2026, 1, 10), date(2026, 5, 20)
    k1 = f"aa:stage_since={first}"
    con = world([person("C1", stage_since=second), person("C2", stage_since=first),
                 person("C3", stage_since=second), person("C4", stage_since=second)],
                plans=[(date(2026, 1, 12), "aa", "C1", "sms", k1, 1, False),
                       (date(2026, 1, 20), "aa", "C1", "sms", k1, 2, False),
                       (date(2026, 1, 12), "aa", "C2", "sms", k1, 1, False),
                       (date(2026, 1, 20), "aa", "C2", "sms", k1, 2, False),
                       (date(2026, 2, 1), "aa", "C3", "sms", "aa", 1, False),
                       (date(2026, 2, 9), "aa", "C3", "sms", "aa", 2, False),
                       (date(2026, 5, 21), "aa", "C4", "sms", "aa", 1, False),
                       (date(2026, 5, 29), "aa", "C4", "sms", "aa", 2, False)])
    df = plan(con, [campaign("aa", waves=waves)])
    d1 = decision(df, "C1")
    assert (d1["reason"], d1["wave"], d1["occurrence_key"]) == ("included:aa", 1, f"aa:stage_since={second}")
    assert f"episode stage_since={second}" in d1["detail"]
    d2 = decision(df, "C2")
    assert d2["reason"] == "excluded:waves_complete" and f"episode stage_since={first}" in d2["detail"]
    assert (decision(df, "C3")["reason"], decision(df, "C3")["wave"]) == ("included:aa", 1)
    assert decision(df, "C4")["reason"] == "excluded:waves_complete"
    # With episode_by: lifetime the campaign keeps one episode per person, keyed by its id: C3's two waves
    # of February complete it.
    life = plan(world([person("C3", stage_since=second)], plans=[
        (date(2026, 2, 1), "aa", "C3", "sms", "aa", 1, False), (date(2026, 2, 9), "aa", "C3", "sms", "aa", 2, False)]),
        [campaign("aa", waves=waves, episode_by="lifetime")])
    assert decision(life, "C3")["reason"] == "excluded:waves_complete"


def _capacity_policy():
    # 60 minutes a day per salesperson; an MVC call takes 30, any other 5. Store ST1's pool is closed (0).
    return policy(call_capacity={"minutes_per_day": 60, "minutes_per_call": {"MVC": 30, "default": 5},
                                 "stores": {"ST1": 0}, "default_pool": "hq", "default_pool_minutes": 5})


def test_calls_beyond_capacity_wait_for_the_next_night_in_priority_order():
    """Salesperson S1 has 60 minutes. Campaign hi (priority 90) is served first, best rank first: A (MVC,
    30) and B (MVC, 30) fill the hour, so C (MGC, 5 minutes, lowest rank) waits, and so does D on the
    lower-priority campaign lo: the first call that does not fit closes the pool, so what waits is the
    lowest-priority end. S2's customer E has S2's own hour. F has no salesperson: her store ST1's pool has
    0 minutes. G has neither: the default pool hq (5 minutes) takes her 5-minute call; H, ranked below G,
    waits. The next night the ledger holds only what was included: A and B are done (one wave), and C and
    D come back and fit."""
    pol = _capacity_policy()
    people = [person("A", salesperson_id="S1", value_tier="MVC", response_propensity=0.9),
              person("B", salesperson_id="S1", value_tier="MVC", response_propensity=0.8),
              person("C", salesperson_id="S1", value_tier="MGC", response_propensity=0.1),
              person("D", salesperson_id="S1", value_tier="MGC", lifecycle_stage="lost"),
              person("E", salesperson_id="S2", value_tier="MVC"),
              person("F", home_store_id="ST1", value_tier="MGC"),
              person("G", value_tier="MGC", response_propensity=0.5),
              person("H", value_tier="MGC", response_propensity=0.4)]
    hi = campaign("hi", priority=90, channels=["phone"], audience="lifecycle_stage = 'dormant'")
    lo = campaign("lo", priority=10, channels=["phone"], audience="lifecycle_stage = 'lost'")
    df = plan(world(people), [hi, lo], pol)
    got = {r.customer_id: r.reason for r in df.itertuples()}
    assert got == {"A": "included:hi", "B": "included:hi", "C": "deferred:capacity", "D": "deferred:capacity",
                   "E": "included:hi", "F": "deferred:capacity", "G": "included:hi", "H": "deferred:capacity"}
    assert (df[df.reason == "deferred:capacity"].decision == "deferred").all()
    assert "salesperson S1 has 60 call minutes a day, 60 booked" in decision(df, "C")["detail"]
    assert "store ST1 has 0 call minutes" in decision(df, "F")["detail"]
    assert "pool hq has 5 call minutes" in decision(df, "H")["detail"]
    # The next night: tonight's included rows are plans in the ledger, the deferred ones are not.
    inc = df[df.decision == "included"]
    plans = [(r.send_date, r.campaign_id, r.customer_id, r.channel, r.occurrence_key, int(r.wave), bool(r.is_holdout))
             for r in inc.itertuples()]
    nxt = plan(world(people, plans=plans), [hi, lo], pol, run_date=date(2026, 6, 2))
    assert decision(nxt, "C")["reason"] == "included:hi"
    assert decision(nxt, "D")["reason"] == "included:lo"
    assert decision(nxt, "A")["reason"] == "excluded:waves_complete"


def test_call_capacity_settings_are_checked():
    """A call longer than the day never fits and would hold every call behind it; minutes are whole numbers."""
    with pytest.raises(CampaignError, match="30-minute call does not fit in minutes_per_day 20"):
        policy(call_capacity={"minutes_per_day": 20})
    with pytest.raises(CampaignError, match=r"call_capacity\.salespeople\.S1 '-5' must be a whole number"):
        policy(call_capacity={"salespeople": {"S1": -5}})


def test_a_responder_on_wechat_is_reached_on_wechat_though_the_campaign_lists_sms_first():
    """The best channel is the one the person responded on, when the campaign lists it and it is open.
    W responded on wechat and consented to it: wechat, though sms comes first. V never responded, U
    responded on email (not a channel of the campaign) and T's wechat consent is withdrawn: for them the
    campaign's order gives sms. With channel_choice: campaign_order W gets sms too."""
    people = [person(p, wechat_unionid=f"wx-{p}", last_response_channel=ch)
              for p, ch in (("W", "wechat"), ("V", None), ("U", "email"), ("T", "wechat"))]
    consents = [("W", "wechat", "granted", "2026-05-01"), ("T", "wechat", "withdrawn", "2026-05-01")]
    df = plan(world(people, consents=consents), [campaign("aa", channels=["sms", "wechat"])])
    w = decision(df, "W")
    assert (w["reason"], w["channel"]) == ("included:aa", "wechat")
    assert "channel: responded on wechat (campaign order would give sms)" in w["detail"]
    for p in ("V", "U"):
        d = decision(df, p)
        assert (d["channel"], d["detail"].split("channel: ")[1].split(";")[0]) == ("sms", "campaign order"), p
    t = decision(df, "T")
    assert t["channel"] == "sms" and "campaign order (responded on wechat, which is closed tonight)" in t["detail"]
    fixed = plan(world(people, consents=consents), [campaign("aa", channels=["sms", "wechat"],
                                                              channel_choice="campaign_order")])
    assert decision(fixed, "W")["channel"] == "sms"
