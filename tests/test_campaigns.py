"""Campaign definitions and the contact policy are checked before anything runs, with clear messages."""

from __future__ import annotations

import shutil

import pytest

from bullseye.activation.campaigns import CampaignError, load_campaigns, parse_campaign
from bullseye.config import PROJECT_ROOT
from tests.activation_kit import policy
from tests.conftest import write

GOOD = """id: spring_sale
name: Spring sale
objective: retain
audience: value_tier = 'MVC' and grade in ('A', 'B')
channels: [sms, email]
start: 2026-03-01
end: 2026-03-31
priority: 50
"""


def test_shipped_campaigns_are_valid_and_cover_every_trigger():
    campaigns, pol = load_campaigns(PROJECT_ROOT / "campaigns")
    triggers = {c.trigger.type for c in campaigns if c.trigger}
    assert triggers == {"birthday", "wedding_anniversary", "purchase_anniversary", "service_step", "festival",
                        "lunar_birthday"}
    audiences = " ".join(c.audience for c in campaigns)
    for needle in ("'dormant'", "'lost'", "'warm_lead'", "'prospect'"):
        assert needle in audiences
    assert [c.priority for c in campaigns] == sorted((c.priority for c in campaigns), reverse=True)
    assert pol.caps["total"] == {7: 2, 30: 4}


@pytest.mark.parametrize("change,message", [
    ("audience: valu_tier = 'MVC'", "audience `valu_tier = 'MVC'` does not work"),
    ("channels: [sms, fax]", "channel 'fax' is not one of"),
    ("objective: grow", "objective 'grow' must be one of"),
    ("end: 2026-02-01", "end 2026-02-01 is before start 2026-03-01"),
    ("holdout_share: 1.5", "holdout_share '1.5' must be a number"),
    ("max_list_size: -3", "max_list_size '-3' must be a positive whole number"),
    ("rank_by: lookalike_scor", "rank_by `lookalike_scor` does not work"),
    ("trigger: {type: name_day}", "trigger type 'name_day' must be one of"),
    ("trigger: {type: festival, festivals: [christmas]}", "festivals ['christmas'] must be among"),
    ("trigger: {type: birthday, festivals: [double_11]}", "festivals are chosen only for a festival trigger"),
    # the trigger model looks trigger_horizon_days (60) ahead: a 90-day lead would silently find nobody
    ("trigger: {type: birthday, days_ahead: 90}", "beyond the trigger horizon"),
    ("send_window: ['07:00', '09:00']", "falls in sms's quiet hours"),
    ("colour: red", "unknown setting 'colour'"),
    ("episode_by: stage_sinse", "episode_by 'stage_sinse' must be an audience column (like stage_since) or lifetime"),
    ("channel_choice: cheapest", "channel_choice 'cheapest' must be best"),
    # an export column is an audience column (a typo would otherwise fail the export after the night's work) ...
    ("export_columns: [next_best_categroy]", "export_columns ['next_best_categroy'] must be audience columns"),
    # ... and never the person's details or contact fields: a channel's file carries only its own contact field
    ("export_columns: [age, phone]", "export_columns ['age', 'phone'] must be audience columns"),
    ("export_columns: [grade, grade]", "export_columns names a column twice"),
])
def test_invalid_definition_names_campaign_and_problem(change, message):
    key = change.split(":")[0]
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(key + ":")) + "\n" + change
    import yaml

    campaign, problems = parse_campaign(yaml.safe_load(text), "spring.yml", policy())
    assert campaign is None
    assert any(p.startswith("spring.yml (campaign 'spring_sale'): ") and message in p for p in problems), problems


def test_folder_reports_every_problem_at_once(tmp_path):
    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", tmp_path)
    write(tmp_path / "a.yml", GOOD)
    write(tmp_path / "b.yml", GOOD)  # same id again
    write(tmp_path / "c.yml", GOOD.replace("spring_sale", "other").replace("priority: 50", "priority: high"))
    with pytest.raises(CampaignError) as err:
        load_campaigns(tmp_path)
    text = str(err.value)
    assert "the same id is already used in" in text and "priority 'high' must be a whole number" in text
    assert text.startswith("2 problem(s)")


def test_bad_policy_and_missing_policy_are_reported(tmp_path):
    write(tmp_path / "a.yml", GOOD)
    with pytest.raises(CampaignError, match="no contact policy"):
        load_campaigns(tmp_path)
    write(tmp_path / "contact_policy.yml", "caps: {sms: {7: 1}, fax: {7: 1}}\nquiet_hours: {sms: ['20:00', '09:00']}\n")
    with pytest.raises(CampaignError) as err:
        load_campaigns(tmp_path)
    text = str(err.value)
    assert "caps: unknown channel 'fax'" in text and "quiet_hours.sms: the window start 20:00:00 must be before" in text
    assert "quiet_hours.email: give the allowed send window" in text


def test_invalid_campaign_stops_the_night_before_loading(tmp_path):
    from bullseye.cli import main

    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", tmp_path)
    write(tmp_path / "bad.yml", GOOD.replace("channels: [sms, email]", "channels: [pigeon]"))
    home = tmp_path / "home"
    code = main(["run", "--landing", str(tmp_path / "nowhere"), "--home", str(home), "--campaigns", str(tmp_path)])
    assert code != 0
    assert not (home / "warehouse").exists()


def test_every_problem_of_a_file_is_named_with_its_field_path(tmp_path):
    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", tmp_path)
    body = GOOD.replace("channels: [sms, email]", "channels: [sms, fax]") + (
        "trigger: {type: birthday, years: [1, two]}\n"
        "waves:\n  - {name: first}\n  - {name: reminder}\n  - {name: last, after_days: 3, colour: red}\n")
    write(tmp_path / "winback.yml", body)
    with pytest.raises(CampaignError) as err:
        load_campaigns(tmp_path)
    lines = str(err.value).splitlines()
    at = f"  - {tmp_path / 'winback.yml'} (campaign 'spring_sale'): "
    assert lines[0] == "4 problem(s) in the campaign definitions:"
    assert sorted(lines[1:]) == sorted([
        at + "channels[1]: channel 'fax' is not one of sms, phone, email, wechat, mail",
        at + "trigger.years[1] 'two' must be a whole number of at least 1",
        at + "waves[2]: unknown setting 'colour'",
        at + "waves[1].after_days '0' must be a whole number of days, at least 1 after the first wave",
    ])


@pytest.mark.parametrize("change,message", [
    ("waves: []", "waves must be a list like [{name: first}"),  # a campaign sends at least one wave
    ("audience: '  '", "audience is empty"),
    ("start: 0", "start: '0' is not a date like 2026-12-31"),
    ("offer: {code: X, 1: y}", "offer[1]: Input should be a valid string"),
])
def test_values_that_would_break_the_night_later_are_refused_now(change, message):
    import yaml

    key = change.split(":")[0]
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(key + ":")) + "\n" + change
    campaign, problems = parse_campaign(yaml.safe_load(text), "spring.yml", policy())
    assert campaign is None and any(message in p for p in problems), problems


def test_policy_problems_are_named_with_their_setting_path(tmp_path):
    from bullseye.activation.campaigns import parse_policy

    with pytest.raises(CampaignError) as err:
        policy_ = {"open_without_consent": {"marketing": {"customer": {"fax": "contract", "sms": "consent"}},
                                            "promo": {"customer": {"sms": "contract"}}},
                   "quiet_hours": {"sms": ["9am", "20:00"], "phone": ["10:00", "19:00"], "email": ["08:00", "21:00"],
                                   "wechat": ["09:00", "21:00"], "mail": ["00:00", "23:59"], "fax": ["1:00", "2:00"]},
                   "sms_signature": "【靶心】", "sms_opt_out_text": "回T退订"}
        parse_policy(policy_, "policy.yml")
    lines = str(err.value).splitlines()
    assert lines[0] == "invalid contact policy:"
    assert sorted(lines[1:]) == sorted([
        "  - policy.yml: open_without_consent: unknown purpose 'promo' (purposes: marketing, service)",
        "  - policy.yml: open_without_consent.marketing.customer: unknown channel 'fax'",
        "  - policy.yml: open_without_consent.marketing.customer.sms: basis 'consent' must be one of contract, "
        "legal_duty, public, other_law (consent is recorded per person, never assumed)",
        "  - policy.yml: quiet_hours.sms[0]: '9am' is not a time of day like 09:00",
        "  - policy.yml: quiet_hours: unknown setting 'fax'",
    ])  # what sits under an unknown key (promo.customer, fax's basis) is not judged as well


def test_a_trigger_campaign_names_no_other_episode():
    """A trigger's occasion is the episode its waves belong to: an episode_by beside it would be ignored, so it
    is refused; without a trigger the episode defaults to stage_since (this dormancy, this lapse)."""
    import yaml

    raw = yaml.safe_load(GOOD)
    campaign, problems = parse_campaign({**raw, "trigger": "birthday", "episode_by": "stage_since"}, "s.yml", policy())
    assert campaign is None and any("episode_by is for campaigns without a trigger" in p for p in problems), problems
    campaign, _ = parse_campaign(raw, "s.yml", policy())
    assert campaign.episode_by == "stage_since" and campaign.channel_choice == "best"
