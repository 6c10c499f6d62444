"""Issue 12 case 6: a campaign file cannot harm the machine, and every error names its file and field.

- Audience and rank_by SQL is parsed as one expression and bound on a locked-down connection; an
  expression that closes the validator's query to run COPY, ATTACH, a file-reading table function,
  SET or PRAGMA is rejected before anything runs.
- A YAML bomb (billion laughs) is refused in a few kilobytes.
- Bad values (dates that do not exist, lists where a number belongs ...) are reported with the
  file, the campaign and the setting, never as a bare ValueError or TypeError.
"""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest
import yaml

from bullseye.activation.campaigns import (
    AUDIENCE_COLUMNS,
    CampaignError,
    _check_sql,
    load_campaigns,
    vet_campaign_sql,
)
from bullseye.config import PROJECT_ROOT
from tests.conftest import write
from tests.test_campaigns import GOOD  # one valid campaign for both files


def _folder(tmp_path: Path, text: str) -> Path:
    """A campaign folder with the shipped policy and one campaign file, ``spring.yml``."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", folder)
    write(folder / "spring.yml", text)
    return folder


def _with(key: str, line: str) -> str:
    """GOOD with setting ``key`` replaced by (or extended with) ``line``."""
    kept = [ln for ln in GOOD.splitlines() if not ln.startswith(key + ":")]
    return "\n".join(kept) + "\n" + line + "\n"


def _rejected(folder: Path) -> str:
    with pytest.raises(CampaignError) as err:
        load_campaigns(folder)
    return str(err.value)


# --- SQL ------------------------------------------------------------------------------------------------------------

def _yaml_str(sql: str) -> str:
    return "'" + sql.replace("'", "''") + "'"


def test_copy_attack_from_the_issue_is_rejected_and_never_runs(tmp_path):
    """The validator used to paste the audience into `SELECT (…) FROM … LIMIT 0` and execute it:
    closing the parenthesis and the query let a campaign write any file, and the campaign passed."""
    stolen = tmp_path / "pwned.csv"
    attack = f"true) FROM (SELECT 1) AS a; COPY (SELECT 42 AS pwned) TO '{stolen}'; SELECT (1"
    folder = _folder(tmp_path, _with("audience", "audience: " + _yaml_str(attack)))
    text = _rejected(folder)
    assert f"{folder / 'spring.yml'} (campaign 'spring_sale'): audience `" in text
    assert "does not work" in text
    assert not stolen.exists()


@pytest.mark.parametrize("field", ["audience", "rank_by"])
@pytest.mark.parametrize("attack", [
    # a second statement after the expression
    "true) FROM (SELECT 1) AS a; COPY (SELECT 42) TO '{out}'; SELECT (1",
    "true; COPY (SELECT 42) TO '{out}'",
    "true; ATTACH '{out}' AS other",
    "1) AS v; ATTACH '{out}' AS other; SELECT (1",
    "true; INSTALL httpfs; LOAD httpfs",
    "true; SET enable_external_access = true",
    "true; PRAGMA enable_profiling",
    # a comment that hides the rest of the real query
    "true) FROM (SELECT 1) AS z -- ",
    "true /* ; COPY (SELECT 1) TO '{out}' */",
    # reading files through table functions, in a subquery or in a FROM the expression adds
    "customer_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
    "customer_id IN (SELECT content FROM read_text('/etc/passwd'))",
    "true) FROM read_csv('/etc/passwd') AS a WHERE (true",
    "EXISTS (SELECT 1 FROM duckdb_settings())",
    # functions with side effects or that read the session
    "nextval('s') > 0",
    "current_setting('enable_external_access')",
    "getenv('HOME') IS NOT NULL",
])
def test_sql_that_could_act_is_rejected_and_writes_nothing(tmp_path, field, attack):
    out = tmp_path / "written.bin"
    sql = attack.format(out=out)
    if field == "rank_by" and not any(w in sql for w in (";", "--", "/*", ") FROM", "current_setting")):
        sql = f"CASE WHEN {sql} THEN 1 ELSE 0 END"  # a number, so only the attack is wrong
    folder = _folder(tmp_path, _with(field, f"{field}: " + _yaml_str(sql)))
    text = _rejected(folder)
    assert f"{folder / 'spring.yml'} (campaign 'spring_sale'): {field} `" in text, text
    assert not out.exists()
    assert not (Path.cwd() / "other.db").exists()


@pytest.mark.parametrize("expr", [
    "value_tier = 'MVC' and grade in ('A', 'B')",
    "customer_status = 'prospect' and lookalike_percentile >= 0.5",
    "list_contains(interest_categories, '电视') or name like '王%'",
    "len(list_filter(interest_categories, lambda c: c ilike 'tv%')) > 0",
    "current_date - stage_since > 30 and coalesce(age, 0) between 20 and 45",
    "case when grade = 'A' then true else days_since_enquiry <= 14 end",
    "age::VARCHAR = '40' and name <> 'x;y'",
])
def test_ordinary_conditions_still_pass(expr):
    assert _check_sql(expr, AUDIENCE_COLUMNS, "audience") is None


@pytest.mark.parametrize("expr,message", [
    ("coalesce(clv_52w, 0)", "it gives DOUBLE, but an audience must be true or false"),
    ("a.age > 3", "column 'a.age' must be named without a table"),
    ("sum(age) over () > 3", "a window or aggregate is not allowed"),
    ("(age > 3", "a '(' is never closed"),
    ("x" * 2001, "at most 2,000 are allowed"),
])
def test_expression_shape_and_type_are_checked(expr, message):
    problem = _check_sql(expr, AUDIENCE_COLUMNS, "audience")
    assert problem is not None and message in problem, problem


def test_rank_by_must_be_a_number():
    assert "rank_by must be a number" in _check_sql("name", AUDIENCE_COLUMNS, "rank_by")
    assert _check_sql("coalesce(clv_52w, 0) + coalesce(profit_12m, 0)", AUDIENCE_COLUMNS, "rank_by") is None


def test_a_campaign_built_in_code_is_vetted_before_its_sql_is_used(tmp_path):
    """The planner pastes audience and rank_by into SQL; vet_campaign_sql is its last gate."""
    import dataclasses

    from tests.activation_kit import campaign

    good = campaign("spring", audience="value_tier = 'MVC'")
    vet_campaign_sql(good)
    out = tmp_path / "x.csv"
    bad = dataclasses.replace(good, rank_by=f"1) AS r; COPY (SELECT 1) TO '{out}'; SELECT (1")
    with pytest.raises(CampaignError, match=r"spring.yml \(campaign 'spring'\): rank_by `"):
        vet_campaign_sql(bad)
    assert not out.exists()


# --- YAML -----------------------------------------------------------------------------------------------------------

def _bomb(levels: int, width: int) -> str:
    """A billion-laughs document: each level is a list of ``width`` aliases of the level below."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + f"\naudience: *a{levels}\n"


@pytest.mark.parametrize("levels,width,message", [
    (9, 9, "more than 50 aliases"),          # 81 aliases, 9**10 strings: the classic bomb
    (5, 9, "expands to more than 20,000"),  # 45 aliases, still 9**6 = 531,441 strings
])
def test_yaml_bomb_is_refused_in_little_memory(tmp_path, levels, width, message):
    text = GOOD.replace("audience: value_tier = 'MVC' and grade in ('A', 'B')\n", "") + _bomb(levels, width)
    folder = _folder(tmp_path, text)
    tracemalloc.start()
    try:
        error = _rejected(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"{folder / 'spring.yml'}: " in error and message in error, error
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_self_referencing_alias_is_refused(tmp_path):
    folder = _folder(tmp_path, GOOD + "description: &loop [*loop]\n")
    assert "expands to more than" in _rejected(folder)


def test_oversized_and_non_utf8_files_are_refused_with_their_name(tmp_path):
    folder = _folder(tmp_path, GOOD + "# " + "x" * (300 * 1024) + "\n")
    assert f"{folder / 'spring.yml'}: the file is larger than 256 KB" in _rejected(folder)
    (folder / "spring.yml").write_bytes(GOOD.replace("Spring sale", "春季").encode("gb18030"))
    assert f"{folder / 'spring.yml'}: not UTF-8 text" in _rejected(folder)


# --- values ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line,field,message", [
    ("start: 2026-13-01", "start", "'2026-13-01' is not a date like 2026-12-31"),
    ("end: 2026-02-30", "end", "'2026-02-30' is not a date like 2026-12-31"),
    ("priority: [1, 2]", "priority", "must be a whole number"),
    ("priority: '50 points'", "priority", "must be a whole number"),
    ("priority: 1.5", "priority", "'1.5' must be a whole number"),
    ("priority: true", "priority", "'True' must be a whole number"),
    ("holdout_share: -0.1", "holdout_share", "'-0.1' must be a number from 0"),
    ("holdout_share: '10%'", "holdout_share", "'10%' must be a number from 0"),
    ("max_list_size: true", "max_list_size", "'True' must be a positive whole number"),
    ("channels: 5", "channel", "'5' is not one of"),
    ("channels: [[sms]]", "channels", "must be a list of plain values"),
    ("waves: 3", "waves", "must be a list"),
    ("name: [a, b]", "name", "must be a single value, not list"),
    ("audience: {a: 1}", "audience", "must be a single value, not dict"),
    ("trigger: {type: birthday, years: [1, two]}", "trigger.years", "'two' must be a whole number"),
    ("trigger: {type: birthday, days_ahead: -3}", "trigger.days_ahead", "'-3' must be a whole number of at least 0"),
    ("trigger: {type: birthday, include_overdue: 'no'}", "trigger.include_overdue", "must be true or false"),
])
def test_bad_values_name_file_campaign_and_field(tmp_path, line, field, message):
    key = line.split(":")[0]
    folder = _folder(tmp_path, _with(key, line))
    text = _rejected(folder)
    assert f"{folder / 'spring.yml'} (campaign 'spring_sale'): {field}" in text, text
    assert message in text, text


@pytest.mark.parametrize("policy,message", [
    ("caps: [1, 2]", "caps must be a mapping"),
    ("caps: {sms: [1, 2]}", "caps.sms: give whole numbers"),
    ("quiet_hours: {sms: {a: 1, b: 2}}", "quiet_hours.sms: give the allowed send window"),
    ("blackout_dates: {all: ['2026-02-30']}", "blackout_dates.all[0]: '2026-02-30' is not a date"),
    ("send_day_offset: 1.5", "send_day_offset: '1.5' must be a whole number"),
    ("default_consent: {customer: 7}", "default_consent.customer: unknown channel(s) ['7']"),
])
def test_bad_policy_values_name_the_file_and_setting(tmp_path, policy, message):
    folder = _folder(tmp_path, GOOD)
    path = folder / "contact_policy.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.update(yaml.safe_load(policy))
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    text = _rejected(folder)
    assert f"{path}: {message}" in text, text
