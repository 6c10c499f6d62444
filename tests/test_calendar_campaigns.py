"""The shipped calendar and MGC campaigns list the right people, on the small policy world (tests/activation_kit).

The trigger rows are what int_activation__triggers gives (its dbt unit tests check them): days_until counts
from the send date. The campaigns are the shipped files, read as a marketer wrote them.
"""

from __future__ import annotations

from datetime import date, datetime

import yaml

from bullseye.activation.campaigns import load_policy, parse_campaign
from bullseye.config import PROJECT_ROOT
from tests.activation_kit import decision, person, plan, policy, world


def shipped(name: str):
    path = PROJECT_ROOT / "campaigns" / f"{name}.yml"
    c, problems = parse_campaign(yaml.safe_load(path.read_text(encoding="utf-8")), path.name, policy())
    assert not problems, problems
    return c


def festival(cid: str, fest: str, year: int, event: date, days: int) -> dict:
    return {"customer_id": cid, "trigger_type": "festival", "occurrence_key": f"festival:{fest}:{year}",
            "event_date": event, "days_until": days, "festival": fest}


def test_festival_greeting_fires_its_lead_days_before_the_chosen_festivals():
    """festival_greeting chooses 双11 and 春节 with days_ahead 14 (the lead time). D14 is 14 days before 双11
    (send date 2026-10-28 for 2026-11-11): listed, on that festival's occasion. D15 is 15 days before: not
    yet. S1 is 14 days before 春节 2027 (2027-02-06, the lunar new year; its row names that year): listed.
    M1 is 5 days before 中秋, a festival the campaign did not choose: not listed. P1 is a prospect 10 days
    before 双11: the audience (customers not graded D) leaves prospects out."""
    c = shipped("festival_greeting")
    assert c.trigger.days_ahead == 14 and set(c.trigger.festivals) == {"double_11", "spring_festival"}
    trig = [festival("D14", "double_11", 2026, date(2026, 11, 11), 14),
            festival("D15", "double_11", 2026, date(2026, 11, 11), 15),
            festival("S1", "spring_festival", 2027, date(2027, 2, 6), 14),
            festival("M1", "mid_autumn", 2026, date(2026, 9, 25), 5),
            festival("P1", "double_11", 2026, date(2026, 11, 11), 10)]
    people = [person(cid, grade="A") for cid in ("D14", "D15", "S1", "M1")] + [person("P1", "prospect")]
    df = plan(world(people, triggers=trig), [c])
    assert set(df.customer_id) == {"D14", "S1"}
    keys = dict(zip(df.customer_id, df.occurrence_key, strict=True))
    assert keys == {"D14": "festival:double_11:2026", "S1": "festival:spring_festival:2027"}
    assert set(df.reason) == {"included:festival"}


def test_lunar_birthday_greeting_takes_the_lunar_occasion_a_week_ahead():
    """L7: the solar date of the lunar birthday (八月十五 of 2026 = 2026-09-25) is 7 days after the send date:
    listed. L8 is 8 days ahead: not yet. B1 has a solar birthday row only: not this campaign's occasion."""
    c = shipped("lunar_birthday_greeting")
    trig = [{"customer_id": "L7", "trigger_type": "lunar_birthday", "occurrence_key": "lunar_birthday:L7:2026-09-25",
             "event_date": date(2026, 9, 25), "days_until": 7},
            {"customer_id": "L8", "trigger_type": "lunar_birthday", "occurrence_key": "lunar_birthday:L8:2026-09-26",
             "event_date": date(2026, 9, 26), "days_until": 8},
            {"customer_id": "B1", "trigger_type": "birthday", "occurrence_key": "birthday:B1:2026-06-05",
             "event_date": date(2026, 6, 5), "days_until": 3}]
    people = [person(cid, grade="B") for cid in ("L7", "L8", "B1")]
    df = plan(world(people, triggers=trig), [c])
    assert df.customer_id.tolist() == ["L7"]


def _greeting_rows(trigger_type: str, prefix: str) -> list[dict]:
    return [{"customer_id": cid, "trigger_type": trigger_type, "occurrence_key": f"{prefix}:{cid}:2026-06-09",
             "event_date": date(2026, 6, 9), "days_until": 7} for cid in ("GA", "GC", "GD", "GN")]


def test_every_greeting_and_winback_leaves_out_grade_d_only():
    """Grades go only to customers who bought in the value window: GN bought nothing there (grade NULL, a
    lapsed customer) and GD did, and is worth less than nothing (grade D). Every campaign that leaves D out
    must keep GN: birthday, lunar birthday, festival (all GN's occasion 7 days ahead) and win-back (GN lost).
    So each lists GA, GC and GN and never GD; with the old condition grade in ('A', 'B', 'C') the lunar
    birthday and festival greetings dropped GN, and a lapsed customer who gave a lunar birthday got no
    birthday greeting at all (the birthday trigger leaves out who gave a lunar one)."""
    people = [person("GA", grade="A", lifecycle_stage="lost"), person("GC", grade="C", lifecycle_stage="lost"),
              person("GD", grade="D", lifecycle_stage="lost"), person("GN", grade=None, lifecycle_stage="lost")]
    festival_rows = [festival(cid, "double_11", 2026, date(2026, 6, 9), 7) for cid in ("GA", "GC", "GD", "GN")]
    for name, trig in [("birthday_greeting", _greeting_rows("birthday", "birthday")),
                       ("lunar_birthday_greeting", _greeting_rows("lunar_birthday", "lunar_birthday")),
                       ("festival_greeting", festival_rows), ("winback_lost", [])]:
        df = plan(world(people, triggers=trig), [shipped(name)])
        assert sorted(df.customer_id) == ["GA", "GC", "GN"], name


def test_wake_dormant_mvc_ranks_on_what_the_customer_caused_not_our_contact_costs():
    """W1 and W2 have the same CLV and caused the same 1,000 over the year; we phoned W1 often (contact costs
    300, so the reported profit_12m is 700) and W2 never (1,000). Our own spend says nothing about the
    customer: both rank 2,000 (clv 1,000 + customer_profit_12m 1,000). W3 caused 1,500: first."""
    c = shipped("wake_dormant_mvc")
    people = [person("W1", clv_52w=1000.0, profit_12m=700.0, customer_profit_12m=1000.0),
              person("W2", clv_52w=1000.0, profit_12m=1000.0, customer_profit_12m=1000.0),
              person("W3", clv_52w=1000.0, profit_12m=1200.0, customer_profit_12m=1500.0)]
    df = plan(world(people), [c])
    scores = dict(zip(df.customer_id, df.rank_score, strict=True))
    assert scores == {"W1": 2000.0, "W2": 2000.0, "W3": 2500.0}


def test_mgc_growth_offers_each_mgc_their_next_best_category_with_a_holdout():
    """G1 and G2 are MGCs with a next best category: both on the list (included, or in the holdout, as the
    fixed hash draws). G3 is an MGC without one (nothing to offer): not a candidate. V1 is an MVC with a next
    best category: not an MGC. One row per person: the campaign's one offer."""
    c = shipped("mgc_growth")
    assert c.holdout_share > 0 and c.channels[0] == "phone" and len(c.waves) == 1
    people = [person("G1", value_tier="MGC", next_best_category="厨房电器"),
              person("G2", value_tier="MGC", next_best_category="小家电"),
              person("G3", value_tier="MGC", next_best_category=None),
              person("V1", value_tier="MVC", next_best_category="小家电")]
    df = plan(world(people), [c])
    assert sorted(df.customer_id) == ["G1", "G2"]
    assert set(df.reason) == {"included:mgc_growth"}


def test_mgc_growth_offers_a_category_once_whatever_the_stage():
    """The episode is the recommended category (episode_by: next_best_category), not the lifecycle stage. K1
    was offered 厨房电器 on 2026-03-02 and has since changed stage (stage_since 2026-05-01): still 厨房电器, so
    the offer is not made again (excluded:waves_complete). K2 was offered 厨房电器 and is now recommended 小家电:
    a new offer, of that category. The export carries the category (export_columns)."""
    c = shipped("mgc_growth")
    assert c.episode_by == "next_best_category" and c.export_columns == ("next_best_category",)
    key = "mgc_growth:next_best_category=厨房电器"
    people = [person("K1", value_tier="MGC", next_best_category="厨房电器", stage_since=date(2026, 5, 1)),
              person("K2", value_tier="MGC", next_best_category="小家电", stage_since=date(2026, 5, 1))]
    plans = [(date(2026, 3, 2), "mgc_growth", cid, "sms", key, 1, False) for cid in ("K1", "K2")]
    df = plan(world(people, plans=plans), [c])
    k1, k2 = decision(df, "K1"), decision(df, "K2")
    assert k1["reason"] == "excluded:waves_complete"
    assert (k2["decision"], k2["occurrence_key"]) == ("included", "mgc_growth:next_best_category=小家电")


def test_quiet_season_checkup_calls_only_in_the_categorys_quiet_season():
    """Q1's large appliance turned 4 on a date 20 days past (overdue occasions count: include_overdue) and the
    send date's month is quiet for 大家电 (is_quiet_season true): listed. B1's the same, in a busy month (false):
    not listed. U1's category has too little history to tell (NULL): not listed, since the campaign calls only
    in a known quiet season. The check-up is offered unasked and opens the trade-in talk: marketing, so K12,
    aged 12 and otherwise like Q1, is left out (under marketing_min_age 14), and under the shipped policy,
    which opens nothing for marketing without consent, Q1 needs a recorded consent to be listed."""
    c = shipped("quiet_season_checkup")

    def anniversary(cid: str, quiet: bool | None) -> dict:
        return {"customer_id": cid, "trigger_type": "purchase_anniversary", "occurrence_key": f"pa:{cid}:大家电:4",
                "event_date": date(2026, 5, 13), "days_until": -20, "category": "大家电", "years": 4,
                "is_quiet_season": quiet}

    trig = [anniversary("Q1", True), anniversary("B1", False), anniversary("U1", None), anniversary("K12", True)]
    people = [person(cid) for cid in ("Q1", "B1", "U1")] + [person("K12", age=12)]
    df = plan(world(people, triggers=trig), [c])
    assert sorted(df.customer_id) == ["K12", "Q1"]
    assert decision(df, "Q1")["decision"] == "included" and decision(df, "Q1")["purpose"] == "marketing"
    assert decision(df, "K12")["decision"] == "excluded"
    shipped_policy = load_policy(PROJECT_ROOT / "campaigns")
    quiet = plan(world([person("Q1")], triggers=trig[:1]), [c], shipped_policy)
    assert decision(quiet, "Q1")["decision"] == "excluded"
    consented = plan(world([person("Q1")], triggers=trig[:1], consents=[("Q1", "sms", "granted",
                                                                           datetime(2026, 1, 5))]), [c], shipped_policy)
    assert decision(consented, "Q1")["decision"] == "included"
