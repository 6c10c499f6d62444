"""bullseye.activation.why on a hand-made warehouse of four people and three campaigns (fast, no night).

The warehouse holds what a night leaves: the stored settings (settings.campaigns), the audience rows
(intermediate.int_activation__audience), the trigger occasions (intermediate.int_activation__triggers) and the
decisions (marts.contact_decisions). Campaigns, on 2026-06-01 (lists for 06-02):
  vip    audience `is_customer and (grade is null or grade <> 'D') and age >= 30`;
  bday   birthday trigger, 7 days ahead, audience `is_customer`;
  xmas   runs 2026-12-01 to 12-31: not active on 06-02.
People: p1 (王芳, 30, grade A) is included in vip by sms, wave 1, in the holdout; p2 (刘洋, grade D, age 25)
fails two clauses of vip, and has a birthday occasion but was excluded by the cap; p3 (王芳 too, grade NULL,
age NULL) fails only `age >= 30`, which is NULL (unknown) for her: the planner's WHERE drops NULL as false;
p4 is a prospect (is_customer false): vip's first clause fails, and bday finds no birthday occasion for him.
"""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest

from bullseye.activation import night_settings
from bullseye.activation.campaigns import AUDIENCE_COLUMNS, TRIGGER_COLUMNS, load_campaigns
from bullseye.activation.why import audience_clauses, explain, find_people, lookup_kind
from bullseye.cli import main
from bullseye.config import PROJECT_ROOT
from tests.conftest import write

NIGHT = date(2026, 6, 1)
CAMPAIGNS = {
    "vip": "audience: is_customer and (grade is null or grade <> 'D') and age >= 30\nchannels: [sms]\npriority: 50\n",
    "bday": "trigger: {type: birthday, days_ahead: 7}\naudience: is_customer\nchannels: [sms]\npriority: 90\n",
    "xmas": "audience: is_customer\nchannels: [sms]\npriority: 10\n",
}
PEOPLE = [  # customer_id, name, is_customer, customer_status, grade, age, phone, email
    ("p1", "王芳", True, "customer", "A", 30, "+8613924681351", "wf@example.com"),
    ("p2", "刘洋", True, "customer", "D", 25, "+8613924681352", None),
    ("p3", "王芳", True, "customer", None, None, "+8613924681353", None),
    ("p4", "孙丽", False, "prospect", None, 40, "+8613712345671", None),
]


@pytest.fixture
def warehouse(tmp_path):
    folder = tmp_path / "campaigns"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "campaigns" / "contact_policy.yml", folder / "contact_policy.yml")
    for cid, body in CAMPAIGNS.items():
        start, end = ("2026-12-01", "2026-12-31") if cid == "xmas" else ("2026-01-01", "2026-12-31")
        write(folder / f"{cid}.yml", f"id: {cid}\nname: {cid}\nobjective: retain\nstart: {start}\nend: {end}\n" + body)
    campaigns, policy = load_campaigns(folder)
    path = tmp_path / "home" / "warehouse" / "bullseye.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    night_settings.store(con, NIGHT, folder, campaigns, policy)
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA marts")
    cols = {**AUDIENCE_COLUMNS, "phone": "VARCHAR", "email": "VARCHAR"}
    con.execute("CREATE TABLE intermediate.int_activation__audience (" +
                ", ".join(f"{c} {t}" for c, t in cols.items()) + ")")
    for cid, name, is_customer, status, grade, age, phone, email in PEOPLE:
        con.execute("INSERT INTO intermediate.int_activation__audience (customer_id, name, is_customer, "
                    "customer_status, grade, age, phone, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [cid, name, is_customer, status, grade, age, phone, email])
    con.execute("CREATE TABLE intermediate.int_activation__triggers (customer_id VARCHAR, " +
                ", ".join(f"{c} {t}" for c, t in TRIGGER_COLUMNS.items()) + ")")
    con.execute("""INSERT INTO intermediate.int_activation__triggers (customer_id, trigger_type, occurrence_key,
        event_date, days_until) VALUES ('p2', 'birthday', 'birthday:p2:2026-06-05', DATE '2026-06-05', 3),
        ('p4', 'wedding_anniversary', 'wedding:p4', DATE '2026-06-04', 2)""")
    con.execute("""CREATE TABLE marts.contact_decisions AS SELECT * FROM (VALUES
        (DATE '2026-06-01', 'vip', 'p1', 'sms', 'included', 'included:vip', NULL, 1, 'main', true),
        (DATE '2026-06-01', 'bday', 'p2', 'sms', 'excluded', 'excluded:cap_7d_sms', 'sms: excluded:cap_7d_sms',
         1, 'main', false),
        (DATE '2026-05-31', 'xmas', 'p3', 'sms', 'included', 'included:xmas', NULL, 1, 'main', false))
        AS t(run_date, campaign_id, customer_id, channel, decision, reason, detail, wave, wave_name, is_holdout)""")
    con.close()
    return path


def test_audience_clauses_split_at_the_top_level_and_only():
    assert audience_clauses("is_customer and (grade is null or grade <> 'D') and age >= 30") == [
        "is_customer", "(grade IS NULL OR grade <> 'D')", "age >= 30"]
    assert audience_clauses("(a = 1 and b = 2)") == ["a = 1", "b = 2"]  # outer parentheses looked through
    assert audience_clauses("a = 1 or b = 2") == ["a = 1 OR b = 2"]


def test_lookup_kind_reads_phones_in_any_written_form():
    assert [lookup_kind(v) for v in ("139-2468-1351", "+86 139 2468 1351", "WF@Example.com ", "p1", "王芳")] == [
        "phone", "phone", "email", "id_or_name", "id_or_name"]


def test_why_for_included_excluded_and_unselected_people(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert [p.customer_id for p in find_people(con, "0086 139-2468-1351")] == ["p1"]
        assert [p.customer_id for p in find_people(con, "WF@example.COM")] == ["p1"]
        assert [p.customer_id for p in find_people(con, "王芳")] == ["p1", "p3"]  # a name: everyone so named
        answers = {(a.customer_id, a.campaign_id): a for a in explain(con, ["p1", "p2", "p3", "p4"])}
    finally:
        con.close()
    vip1 = answers[("p1", "vip")]
    assert vip1.outcome == "included" and vip1.why.startswith("sms; wave 1 (main); holdout")
    bday2 = answers[("p2", "bday")]
    assert (bday2.outcome, bday2.why) == ("excluded", "excluded:cap_7d_sms; sms: excluded:cap_7d_sms")
    vip2 = answers[("p2", "vip")]  # grade D and 25: two clauses fail, each with p2's values
    assert vip2.outcome == "not a candidate"
    assert vip2.why == ("audience: `(grade IS NULL OR grade <> 'D')` is false (grade=D); `age >= 30` is false "
                        "(age=25)")
    assert answers[("p3", "vip")].why == "audience: `age >= 30` is unknown (NULL) (age=NULL)"
    assert answers[("p4", "vip")].why == "audience: `is_customer` is false (is_customer=False)"
    # p4 has a wedding anniversary, not a birthday; p1 has no occasion at all
    assert answers[("p4", "bday")].why == answers[("p1", "bday")].why == "no birthday occasion in the window"
    xmas = answers[("p3", "xmas")]  # yesterday's decision is not tonight's: xmas is not active on 06-02
    assert xmas.outcome == "not active" and "2026-12-01" in xmas.why and "2026-06-02" in xmas.why
    assert len(answers) == 4 * 3


def test_lists_why_cli_prints_a_table_and_logs_no_person(warehouse, capsys):
    home = warehouse.parent.parent
    assert main(["lists", "why", "王芳", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "2 people match: p1 (王芳), p3 (王芳)" in out
    rows = [line for line in out.splitlines() if " vip " in line]
    assert len(rows) == 2 and "included" in rows[0] and "`age >= 30` is unknown (NULL)" in rows[1]
    assert main(["lists", "why", "139 2468 1399", "--home", str(home)]) == 1
    assert "nobody in bullseye.duckdb is named by '139 2468 1399'" in capsys.readouterr().out
    assert main(["lists", "why", "p1", "--home", str(home), "--as-of", "2026-05-31"]) == 0
    out = capsys.readouterr().out  # an earlier night: its decisions, and no guess about the audience
    assert "only known for the latest night" in out
    log = home / "logs" / "bullseye.log"
    assert not log.exists() or "王芳" not in log.read_text(encoding="utf-8")


def test_the_night_report_explains_the_people_no_campaign_selected(warehouse):
    """On 06-01, p1 (vip) and p2 (bday) have decisions; p3 (whose only decision is yesterday's) and p4 are on
    no list. vip: p4 fails `is_customer`, p2 fails the grade clause, p2 (25) and p3 (NULL age) fail
    `age >= 30`, so one candidate (p1). bday: only p2 has a birthday occasion, so three have none. xmas is
    not active on the send date 06-02 and leaves out all four."""
    from bullseye.activation.report import section_why
    from bullseye.activation.why import clause_misses, unselected

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE TABLE marts.dim_customer AS SELECT customer_id, name, phone "
                    "FROM intermediate.int_activation__audience")
        assert unselected(con, NIGHT, 200) == (2, ["p3", "p4"])
        assert unselected(con, NIGHT, 1) == (2, ["p3"])
        steps = {(c, s): (n, total) for c, s, n, total in clause_misses(con, NIGHT)}
        html = section_why(con, NIGHT)
    finally:
        con.close()
    assert steps == {
        ("bday", "no birthday occasion in the window"): (3, 4),
        ("bday", "`is_customer` is not true"): (0, 4),
        ("bday", "each clause holds on some occasion, never all on one"): (0, 4),
        ("bday", "all clauses hold (candidates)"): (1, 4),
        ("vip", "`is_customer` is not true"): (1, 4),
        ("vip", "`(grade IS NULL OR grade <> 'D')` is not true"): (1, 4),
        ("vip", "`age >= 30` is not true"): (2, 4),
        ("vip", "all clauses hold (candidates)"): (1, 4),
        ("xmas", "not active on 2026-06-02 (runs 2026-12-01 to 2026-12-31)"): (4, 4),
    }
    assert 'data-figure="unselected">2<' in html
    # p3's and p4's answers are in the searchable table, masked: the name's first character only
    assert "age &gt;= 30` is unknown (NULL)" in html and "`is_customer` is false (is_customer=False)" in html
    assert "(age=…)" in html and "age=NULL" not in html  # personal values masked in the report (lists why shows them)
    assert "no birthday occasion in the window" in html
    assert "孙丽" not in html and "8613712345671" not in html and "…5671" in html
