"""The shipped calendar and MGC campaigns list the right people, on the small policy world (tests/activation_kit).

The trigger rows are what int_activation__triggers gives (its dbt unit tests check them): days_until counts
from the send date. The campaigns are the shipped files, read as a marketer wrote them.
"""

from __future__ import annotations

from datetime import date

import yaml

from bullseye.activation.campaigns import parse_campaign
from bullseye.config import PROJECT_ROOT
from tests.activation_kit import person, plan, policy, world


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
    before 双11: the audience (customers of grade A-C) leaves prospects out."""
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


def test_quiet_season_checkup_calls_only_in_the_categorys_quiet_season():
    """Q1's large appliance turned 4 on a date 20 days past (overdue occasions count: include_overdue) and the
    send date's month is quiet for 大家电 (is_quiet_season true): listed. B1's the same, in a busy month (false):
    not listed. U1's category has too little history to tell (NULL): not listed, since the campaign calls only
    in a known quiet season."""
    c = shipped("quiet_season_checkup")

    def anniversary(cid: str, quiet: bool | None) -> dict:
        return {"customer_id": cid, "trigger_type": "purchase_anniversary", "occurrence_key": f"pa:{cid}:大家电:4",
                "event_date": date(2026, 5, 13), "days_until": -20, "category": "大家电", "years": 4,
                "is_quiet_season": quiet}

    trig = [anniversary("Q1", True), anniversary("B1", False), anniversary("U1", None)]
    df = plan(world([person(cid) for cid in ("Q1", "B1", "U1")], triggers=trig), [c])
    assert df.customer_id.tolist() == ["Q1"]
    assert df.purpose.tolist() == ["service"]
