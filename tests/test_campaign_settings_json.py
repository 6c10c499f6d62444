"""The night's validated campaigns and policy stored once as JSON come back as equal objects.

settings_json / settings_from_json let the night validate the campaign folder once and hand the
result to every later step; nothing may be lost or changed on the way (dates, times, caps keyed by
whole days, blackout sets, triggers, waves, offers, definition hashes).
"""

from __future__ import annotations

import json
from datetime import date, time

import pytest

from bullseye.activation.campaigns import (
    CampaignError,
    load_campaigns,
    settings_from_json,
    settings_json,
)
from bullseye.config import PROJECT_ROOT
from tests.activation_kit import campaign, decision, person, plan, policy, world
from tests.test_activation_pipeline import CAMPAIGNS
from tests.test_activation_pipeline import _campaigns as write_pipeline_campaigns


def _round_trip(campaigns, pol):
    text = settings_json(campaigns, pol)
    back, back_policy = settings_from_json(text)
    return text, back, back_policy


def test_the_shipped_folder_round_trips_exactly():
    campaigns, pol = load_campaigns(PROJECT_ROOT / "campaigns")
    text, back, back_policy = _round_trip(campaigns, pol)
    assert back == campaigns and back_policy == pol
    assert [c.definition_sha256 for c in back] == [c.definition_sha256 for c in campaigns]
    assert all(len(c.definition_sha256) == 64 for c in back)
    # the types the planner relies on, not just equal-looking values
    tradein = next(c for c in back if c.id == "appliance_safety_tradein")
    assert tradein.trigger.years == (3, 5, 8) and tradein.waves[0].purpose == "service"
    assert tradein.waves[1].after_days == 14 and tradein.offer_code == "TRADEIN26"
    warm = next(c for c in back if c.id == "warm_lead_followup")
    assert warm.send_window == (time(10, 0), time(18, 0)) and warm.start == date(2024, 1, 1)
    assert back_policy.caps["total"] == {7: 2, 30: 4} and back_policy.cap_windows == [7, 30]
    assert back_policy.blackout_dates["all"] == frozenset({date(2027, 2, 5), date(2027, 2, 6)})
    assert back_policy.quiet_hours["mail"] == (time(0, 0), time(23, 59))
    assert settings_json(back, back_policy) == text  # a second trip writes the same text


def test_a_test_fixture_folder_round_trips_exactly(tmp_path):
    write_pipeline_campaigns(tmp_path)
    campaigns, pol = load_campaigns(tmp_path)
    assert {c.id for c in campaigns} == set(CAMPAIGNS)
    _, back, back_policy = _round_trip(campaigns, pol)
    assert back == campaigns and back_policy == pol
    assert {c.id: c.definition_sha256 for c in back} == {c.id: c.definition_sha256 for c in campaigns}
    assert next(c for c in back if c.id == "winback").holdout_share == 0.3


def test_every_kind_of_setting_round_trips_and_plans_the_same_night():
    camps = [
        campaign("anniv", trigger={"type": "purchase_anniversary", "days_ahead": 14, "years": [3, 5],
                                   "categories": ["大家电"], "include_overdue": True},
                 waves=[{"name": "check", "purpose": "service", "message": "免费检测"},
                        {"name": "offer", "after_days": 7}],
                 offer={"code": "tradein", "tiers": [100, 200.5], "note": None, "vip": True},
                 send_window=["10:00", "12:00"], channels=["phone", "sms"], max_list_size=5, priority=30),
        campaign("mk", channels=["sms", "email"], holdout_share=0.25, rank_by="coalesce(clv_52w, 0)",
                 episode_by="last_enquiry_at", channel_choice="campaign_order"),
    ]
    pol = policy(blackout_dates={"sms": ["2026-06-09", "2026-06-03"], "all": ["2027-02-05"]},
                 sms_opt_out_replies=["td", "退订"], max_campaigns_per_person_per_night=2,
                 call_capacity={"minutes_per_day": 90, "minutes_per_call": {"MVC": 45}, "salespeople": {"S1": 0},
                                "stores": {"ST1": 300}, "default_pool": "hq", "default_pool_minutes": 60})
    _, back, back_policy = _round_trip(camps, pol)
    assert back == camps and back_policy == pol
    assert back[0].trigger.condition() == camps[0].trigger.condition()
    assert back[0].offer == {"code": "tradein", "tiers": [100, 200.5], "note": None, "vip": True}
    assert back_policy.open_without_consent == pol.open_without_consent
    assert back_policy.sms_opt_out_replies == ("TD", "退订")
    assert back_policy.call_capacity.pool(None, "ST1") == ("store ST1", 300)
    assert (back[1].episode_by, back[1].channel_choice, back[0].episode_by) == ("last_enquiry_at", "campaign_order",
                                                                              None)

    people = [person(f"C{i}", response_propensity=i / 10) for i in range(6)]
    trig = [{"customer_id": f"C{i}", "trigger_type": "purchase_anniversary", "occurrence_key": f"pa:o{i}:大家电:3",
             "event_date": date(2026, 6, 10), "days_until": 9, "category": "大家电", "years": 3} for i in range(3)]
    before = plan(world(people, triggers=trig), camps, pol)
    after = plan(world(people, triggers=trig), back, back_policy)
    assert set(before[before.campaign_id == "anniv"].customer_id) == {"C0", "C1", "C2"}
    assert decision(before, "C0", "anniv")["purpose"] == "service"  # the first wave's own purpose
    assert len(before) == 9 and before.equals(after)


def test_the_text_does_not_depend_on_the_order_sets_were_built_in():
    a = policy(blackout_dates={"phone": ["2026-10-03", "2026-10-01", "2026-10-02"]})
    b = policy(blackout_dates={"phone": ["2026-10-01", "2026-10-02", "2026-10-03"]})
    assert settings_json([], a) == settings_json([], b)
    stored = json.loads(settings_json([], a))
    assert stored["policy"]["blackout_dates"]["phone"] == ["2026-10-01", "2026-10-02", "2026-10-03"]


def test_a_damaged_settings_text_is_refused_with_the_place():
    campaigns, pol = load_campaigns(PROJECT_ROOT / "campaigns")
    stored = json.loads(settings_json(campaigns, pol))
    stored["campaigns"][1]["priority"] = "high"
    del stored["policy"]["quiet_hours"]
    with pytest.raises(CampaignError) as err:
        settings_from_json(json.dumps(stored))
    text = str(err.value)
    assert "settings: campaigns[1].priority: " in text and "settings: policy.quiet_hours is required" in text
    with pytest.raises(CampaignError, match="invalid night settings"):
        settings_from_json("{not json")
