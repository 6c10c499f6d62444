"""The whole nightly job in-process, on demo data and on a minimal landing zone."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from bullseye import night as nights
from bullseye.activation import night_settings
from bullseye.cli import main
from bullseye.config import PROJECT_ROOT, RunConfig, setting
from bullseye.evaluation import pairwise_scores
from bullseye.pipeline import PipelineError, step_check, step_load
from bullseye.quality import QualityError
from tests.conftest import DEMO_NIGHT, MINIMAL_CRM, MINIMAL_ORDERS, copy_home, db_rows, write

pytestmark = pytest.mark.slow
MARTS = ["dim_customer", "customer_identity_map", "fct_orders", "customer_rfm", "target_lists", "customer_clv",
         "clv_model_params", "customer_segments"]
AS_OF = DEMO_NIGHT


def _marts_digest(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in MARTS:
            rows = con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()
            out[t] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def night(demo_landing, demo_night, tmp_path_factory):
    """The shared demo night (tests.conftest.demo_night, the same command on the same data), copied, then
    run once more: the same night again must give the same marts."""
    home = copy_home(demo_night, tmp_path_factory.mktemp("night") / "home")
    args = ["run", "--landing", str(demo_landing), "--as-of", AS_OF, "--home", str(home)]
    first = _marts_digest(home / "published" / "bullseye.duckdb")
    assert main(args) == 0  # the same night again
    return home, first, args


def test_run_fills_contract_tables_and_is_idempotent(night):
    home, first, _ = night
    assert _marts_digest(home / "published" / "bullseye.duckdb") == first
    con = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    counts = {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchall()[0][0] for t in MARTS}
    assert all(n > 0 for n in counts.values()), counts
    cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'dim_customer'"
                                      ).fetchall()}
    assert {"customer_id", "name", "gender", "birth_date", "phone", "email", "province", "city", "district",
            "first_seen_at", "is_customer", "n_source_records"} <= cols
    assert con.execute("SELECT max(order_ts) < DATE '2026-11-25' FROM marts.fct_orders").fetchall() == [(True,)]
    con.close()
    wh = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    assert wh.execute("SELECT count(*) FROM meta.load_ledger").fetchall()[0][0] == len(
        {r[0] for r in wh.execute("SELECT checksum FROM meta.load_ledger").fetchall()})
    wh.close()


def test_export_files_and_manifest(night):
    home, _, _ = night
    out = home / "exports" / AS_OF
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    camps = [c for c in manifest["campaigns"] if c["included"]]
    assert camps, manifest
    for camp in camps:
        assert camp["exported"] + camp["holdout"] == camp["included"]
        assert camp["included"] == sum(n for r, n in camp["counts_by_reason"].items() if r.startswith("included:"))
        definition = Path(camp["definition_file"]).read_bytes()
        assert camp["definition_sha256"] == hashlib.sha256(definition).hexdigest()
        for name, info in camp["files"].items():
            path = out / name
            assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            if name.endswith(".csv"):
                assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM so that Excel reads UTF-8
            if name.endswith("__sms.csv"):
                header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
                assert header[:2] == ["customer_id", "phone"] and "address" not in header
            if name.endswith("__sms.xlsx"):  # issue 17: phones as text, domestic ones the 11-digit national number
                from openpyxl import load_workbook

                ws = load_workbook(path, read_only=True).worksheets[0]
                phones = [r[1] for r in ws.iter_rows(min_row=2, max_col=2)]
                assert phones and all(c.data_type == "s" for c in phones), name
                assert all(re.fullmatch(r"1\d{10}|\+(?!86)\d+", c.value) for c in phones), name


REPORT_ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def test_night_report_opens_offline_and_matches_the_marts(night, tmp_path):
    """The night report (exports/<run_date>/report.html) in a real headless browser, network blocked.

    Why the answers are right: the page's figures are compared with counts queried here from the
    published copy (the same marts the export step read), and the quality table with the
    expectations in expectations/*.yml (one result each); a chart that failed to draw has no
    SVG or a zero-size one; any request other than file:// is recorded and aborted."""
    from playwright.sync_api import sync_playwright

    from bullseye.quality import load_suites

    chromium = shutil.which("chromium")
    assert chromium, "the browser test needs Debian's chromium (apt-get install -y chromium); .ci/run installs it"
    home, _, _ = night
    page_path = home / "exports" / AS_OF / "report.html"
    assert page_path.exists()
    pub = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    people = pub.execute("SELECT count(*) FROM marts.dim_customer").fetchone()[0]
    lists = dict(pub.execute("SELECT campaign_id, count(*) FROM marts.target_lists WHERE run_date = ? GROUP BY 1",
                             [AS_OF]).fetchall())
    candidates = dict(pub.execute("""SELECT campaign_id, count(DISTINCT customer_id) FROM marts.contact_decisions
        WHERE run_date = ? GROUP BY 1""", [AS_OF]).fetchall())
    someone, their_rows = pub.execute("""SELECT customer_id, count(*) FROM marts.contact_decisions WHERE run_date = ?
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""", [AS_OF]).fetchone()
    full_phones = [r[0] for r in pub.execute("SELECT phone FROM marts.dim_customer WHERE phone IS NOT NULL LIMIT 50"
                                             ).fetchall()]
    pub.close()
    expectations = sum(len(t.get("expectations", [])) + ("row_count_max_change" in t)  # + row count vs last night
                       for spec in load_suites().values() for t in (spec.get("tables") or {}).values())

    attempted: list[str] = []

    def block(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", block)
        page.goto(page_path.as_uri())
        sizes = page.eval_on_selector_all(".chart svg", "els => els.map(e => [e.getBoundingClientRect().width, "
                                          "e.getBoundingClientRect().height, e.querySelectorAll('path').length])")
        figures = page.eval_on_selector_all("[data-figure]", "els => Object.fromEntries(els.map(e => "
                                            "[e.dataset.figure, e.textContent]))")
        funnel = page.eval_on_selector_all("#funnel tbody tr", "rows => rows.map(r => "
                                           "Array.from(r.cells).map(c => c.textContent))")
        header = page.eval_on_selector_all("#funnel thead th", "ths => ths.map(t => t.textContent)")
        quality_rows = page.eval_on_selector_all("#quality tbody tr", "rows => rows.length")
        page.fill("#why-filter", someone)
        shown = page.eval_on_selector_all("#why tbody tr", "rows => rows.filter(r => r.style.display !== 'none')"
                                          ".map(r => r.cells[1].textContent)")
        # the screenshot while the filter shows one person: the whole why table (thousands of rows) would make
        # a page too long to capture in time
        REPORT_ARTIFACTS.mkdir(exist_ok=True)
        shot = REPORT_ARTIFACTS / "report.png"
        page.screenshot(path=str(shot), full_page=True, timeout=120_000)
        page.fill("#why-filter", "")
        text = page.inner_text("body")
        browser.close()
    print(f"night report screenshot: {shot}")
    assert attempted == [] and errors == []
    assert len(sizes) >= 6 and all(w > 0 and h > 0 and n > 0 for w, h, n in sizes), sizes
    assert int(figures["people"].replace(",", "")) == people
    col = {name: i for i, name in enumerate(header)}
    by_campaign = {r[col["campaign_id"]]: r for r in funnel}
    assert set(by_campaign) == set(candidates)
    for campaign, n in candidates.items():
        assert int(by_campaign[campaign][col["candidates"]]) == n
        assert int(by_campaign[campaign][col["included"]]) == lists.get(campaign, 0), campaign
    assert int(figures["checks"]) == quality_rows == expectations
    assert shown == [someone] * their_rows
    assert int(figures["unselected"].replace(",", "")) > 0  # the demo has people no audience selects (issue 17)
    assert not any(p in text for p in full_phones)  # phones masked to their last four digits


def test_every_call_sheet_row_has_its_context(night):
    """Issue 16: every call on tonight's lists (phone, not holdout) is on exactly one sheet, and every row says who
    to call (name where the person has one, a dialable number), why (campaign name, reason, wave) and who they
    are to us (stage; a tier for customers, and a grade for those who bought in the value window: nobody else has
    one, by design). The manifest's counts and checksums are the files'."""
    import pandas as pd

    home, _, _ = night
    out = home / "exports" / AS_OF
    entry = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["call_sheets"]
    sheets = []
    for sheet in entry["sheets"]:
        path = out / sheet["file"]
        assert sheet["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert sheet["xlsx_sha256"] == hashlib.sha256((out / sheet["xlsx_file"]).read_bytes()).hexdigest()
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        assert len(df) == sheet["rows"]
        sheets.append(df)
    rows = pd.concat(sheets, ignore_index=True)
    con = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    # bought: an order in the trailing value window (cancelled ones not), counted from fct_orders, not the segments
    calls = con.execute(f"""SELECT t.campaign_id, t.customer_id, d.name IS NOT NULL AS has_name, d.is_customer,
            EXISTS (SELECT 1 FROM marts.fct_orders o WHERE o.customer_id = t.customer_id
                AND o.order_date > DATE '{AS_OF}' - INTERVAL {int(setting("value_window_days"))} DAY
                AND o.status NOT IN ('cancelled', 'canceled')) AS bought
        FROM marts.target_lists t JOIN marts.dim_customer d USING (customer_id)
        WHERE t.run_date = DATE '{AS_OF}' AND t.channel = 'phone' AND NOT t.is_holdout""").df()
    con.close()
    assert len(calls) and len(rows) == entry["calls"] == len(calls)
    assert set(zip(rows.campaign_id, rows.customer_id, strict=True)) == set(
        zip(calls.campaign_id, calls.customer_id, strict=True))
    rows = rows.merge(calls, on=["campaign_id", "customer_id"])
    for col in ("contact_id", "sent_at", "phone", "campaign_name", "reason", "wave_name", "lifecycle_stage"):
        assert rows[col].notna().all(), col
    assert rows.phone.str.fullmatch(r"1\d{10}").all()  # domestic numbers as dialled
    assert rows.loc[rows.has_name, "name"].notna().all()
    # every customer has a tier; a grade exactly when they bought in the value window (issue 16: no purchase in
    # it, no grade), so a broken segment join on the sheets still fails
    assert rows.loc[rows.is_customer, "value_tier"].notna().all()
    assert (rows.loc[rows.is_customer, "grade"].notna() == rows.loc[rows.is_customer, "bought"]).all()
    assert rows.loc[rows.is_customer, "bought"].any()  # the check is about somebody
    assert (rows.channel == "phone").all() and rows[["outcome", "called_at", "order_id", "note"]].isna().all().all()


def test_exported_people_are_contactable(night):
    home, _, _ = night
    con = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    bad = con.execute("""SELECT count(*) FROM marts.target_lists t JOIN marts.customer_contact_policy p
        ON p.customer_id = t.customer_id AND p.channel = t.channel
        WHERE p.do_not_contact OR p.consent_status = 'withdrawn'""").fetchall()[0][0]
    assert bad == 0


def test_few_purchase_buyers_are_judged_on_what_they_bought(night):
    """Issue 16: a one-time buyer was judged on everyone's usual gap (23 days), so a refrigerator buyer was lost
    three months on. Now a buyer with fewer than rhythm_min_own_purchase_days purchase days is judged on the
    longest cycle of what they bought; the demo's six categories all have a row in seed category_cycles, so
    nobody falls back to everyone's gap. Such a buyer is lost only after lifecycle_lost_gaps of those cycles
    (no BG/NBD p_alive for them, no hysteresis on a first night). On the night of 2026-11-25 the old rule had
    66 of the 72 one-time buyers whose longest cycle is 大家电's lost; none is now (4 x 730 days is 8 years,
    more than the demo's history)."""
    home, _, _ = night
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    own, lost_gaps = setting("rhythm_min_own_purchase_days"), setting("lifecycle_lost_gaps")
    sources = dict(con.execute(f"""SELECT rhythm_source, count(*) FROM intermediate.int_customer__purchase_rhythm
        WHERE (purchase_days >= {own}) <> (rhythm_source = 'own') OR rhythm_source <> 'own' GROUP BY 1""").fetchall())
    assert set(sources) == {"category_seed"} and sources["category_seed"] > 0, sources
    lost_early = con.execute(f"""SELECT count(*) FROM marts.customer_segments s
        JOIN intermediate.int_customer__purchase_rhythm r USING (customer_id)
        WHERE r.rhythm_source = 'category_seed' AND s.lifecycle_stage = 'lost' AND s.silence_gaps < {lost_gaps}
        """).fetchall()[0][0]
    durable = con.execute("""SELECT count(*) FILTER (WHERE s.lifecycle_stage = 'lost'), count(*)
        FROM marts.customer_segments s JOIN intermediate.int_customer__purchase_rhythm r USING (customer_id)
        WHERE r.rhythm_category = '大家电'""").fetchall()[0]
    con.close()
    assert lost_early == 0
    assert durable[0] == 0 and durable[1] > 0, durable


def test_no_salesperson_or_store_is_over_its_call_capacity(night):
    """Issue 16: each salesperson, store pool and the default pool books at most its call_capacity minutes of
    calls a night (included, not holdout, by the policy the night stored), calls beyond it are deferred with
    the pool named, and a deferred call is on no list and in no ledger (so it comes back the next night)."""
    home, _, _ = night
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:
        cap = night_settings.read(con, AS_OF)[1].call_capacity
        rows = con.execute("""SELECT a.salesperson_id, a.home_store_id, a.value_tier, d.decision
            FROM marts.contact_decisions d JOIN intermediate.int_activation__audience a USING (customer_id)
            WHERE d.run_date = ? AND d.channel = 'phone' AND (d.decision = 'included' AND NOT d.is_holdout
                                                              OR d.decision = 'deferred')""", [AS_OF]).fetchall()
        leaked = con.execute("""SELECT count(*) FROM marts.contact_decisions d JOIN marts.target_lists t
            USING (run_date, campaign_id, customer_id) WHERE d.run_date = ? AND d.decision = 'deferred'""",
                             [AS_OF]).fetchall()[0][0]
        unnamed = con.execute(r"""SELECT count(*) FROM marts.contact_decisions WHERE run_date = ?
            AND reason = 'deferred:capacity'
            AND NOT regexp_matches(detail, '(salesperson|store|pool) \S+ has \d+ call minutes')""",
                              [AS_OF]).fetchall()[0][0]
    finally:
        con.close()
    used: Counter = Counter()
    minutes = {}
    for salesperson, store, tier, decision in rows:
        pool, minutes[pool] = cap.pool(salesperson, store)
        used[pool] += cap.effort(tier) if decision == "included" else 0
    assert sum(used.values()) > 0, "no calls on the demo night"
    over = {p: (n, minutes[p]) for p, n in used.items() if n > minutes[p]}
    assert not over, over
    assert (leaked, unnamed) == (0, 0)


def test_value_tiers_rest_on_purchases_in_the_window(night):
    """The articles' BZ buys and still costs more than they bring, and their MGC buys from us with a small
    share of a large wallet: so no BZ or MGC without an order in the trailing year (counted here from
    fct_orders, not from the segments' own columns), and every MGC kept goods. Grades rank the buyers of
    the window; nobody else has one. A share of wallet of 1.0 needs a real budget the spend fits in."""
    home, _, _ = night
    con = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    rows = con.execute(f"""
        WITH bought AS (
            SELECT customer_id, count(*) AS orders, sum(amount) FILTER (WHERE NOT is_refunded) AS kept
            FROM marts.fct_orders
            WHERE order_date > DATE '{AS_OF}' - INTERVAL 365 DAY AND status NOT IN ('cancelled', 'canceled')
            GROUP BY ALL)
        SELECT
            count(*) FILTER (WHERE s.value_tier = 'BZ' AND b.orders IS NULL),
            count(*) FILTER (WHERE s.value_tier = 'MGC' AND coalesce(b.kept, 0) <= 0),
            count(*) FILTER (WHERE (s.grade IS NULL) <> (b.orders IS NULL) AND s.value_tier IS NOT NULL),
            count(*) FILTER (WHERE s.share_of_wallet = 1.0 AND s.budget_source LIKE 'unknown%'),
            count(*) FILTER (WHERE s.share_of_wallet > 1.0 OR s.annual_budget < s.revenue_12m),
            count(*) FILTER (WHERE s.value_tier IN ('MVC', 'MGC')),
            count(*) FILTER (WHERE b.kept > 0 AND s.value_tier IS NULL)
        FROM marts.customer_segments s LEFT JOIN bought b USING (customer_id)""").fetchall()[0]
    con.close()
    bz_idle, mgc_idle, grade_off, share_unknown, share_over, mvc_mgc, untiered = rows
    assert (bz_idle, mgc_idle, grade_off, share_unknown, share_over, untiered) == (0, 0, 0, 0, 0, 0), rows
    assert mvc_mgc > 0


def test_deterministic_matching_against_truth(night, demo_landing):
    home, _, _ = night
    con = duckdb.connect(str(home / "published" / "bullseye.duckdb"), read_only=True)
    s = pairwise_scores(con, demo_landing / "_truth" / "identity.csv")
    assert s.precision >= 0.98 and s.recall >= 0.85, s
    # junk phones and emails never tie people together
    assert con.execute("SELECT count(*) FROM marts.dim_customer WHERE phone = '+8613800138000'").fetchall() == [(0,)]


def test_failed_critical_check_stops_before_publishing(night):
    home, _, args = night
    wh = home / "warehouse" / "bullseye.duckdb"
    pub = home / "published" / "bullseye.duckdb"
    before = pub.stat().st_mtime_ns, wh.stat().st_mtime_ns
    cfg = RunConfig(landing=args[2], warehouse=wh, as_of=AS_OF, home=home)
    work = nights.begin(cfg)  # the night in progress: a working copy of the warehouse
    con = duckdb.connect(str(work))
    con.execute("UPDATE marts.customer_rfm SET r_score = 9 WHERE customer_id = (SELECT min(customer_id) "
                "FROM marts.customer_rfm)")
    con.close()
    with pytest.raises(QualityError, match=r"marts.customer_rfm: expect_column_values_to_be_between\(r_score\)"):
        step_check(cfg)
    assert main([*args, "--steps", "check,publish,export,commit"]) == 1
    assert (pub.stat().st_mtime_ns, wh.stat().st_mtime_ns) == before


def test_backfill_only_sees_data_up_to_its_date(demo_landing, tmp_path):
    assert main(["run", "--landing", str(demo_landing), "--as-of", "2025-06-30", "--home", str(tmp_path)]) == 0
    con = duckdb.connect(str(tmp_path / "published" / "bullseye.duckdb"), read_only=True)
    assert con.execute("SELECT max(order_ts) < DATE '2025-07-01', min(recency_days) >= 0 FROM marts.fct_orders, "
                       "marts.customer_rfm").fetchall() == [(True, True)]
    assert con.execute("SELECT DISTINCT run_date::VARCHAR FROM marts.target_lists").fetchall() == [("2025-06-30",)]


def _listing(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its modification time: what a run wrote there, or changed."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_second_warehouse_given_only_by_path_shares_nothing_with_the_demo(night, tmp_path, monkeypatch):
    """The README's `bullseye run --landing L --warehouse /data/bullseye.duckdb`, after a demo night, on a
    minimal landing zone (required columns only). Before issue 17 its home was $BULLSEYE_HOME or the repo's
    var/ whatever the warehouse: it overwrote the demo's publication, and its check step failed with GE's
    CheckpointRelatedResourcesFreshnessError, the two warehouses sharing one GE context. $BULLSEYE_HOME
    points to the demo's home here on purpose, as a user's shell may: a warehouse named on the command line
    still gets its own home, its folder (contract §3). So the run succeeds; every file it writes is under
    that folder (published, exports, quality, logs), none under the demo's home or the repo's var/; and no
    file it wrote names the demo's home, so the demo's night left nothing in it either."""
    demo_home, _, _ = night
    repo_var = PROJECT_ROOT / "var"
    before = _listing(demo_home), _listing(repo_var) if repo_var.exists() else {}
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    data = tmp_path / "data"
    monkeypatch.setenv("BULLSEYE_HOME", str(demo_home))
    monkeypatch.delenv("BULLSEYE_WAREHOUSE", raising=False)
    assert main(["run", "--landing", str(land), "--as-of", "2026-06-01", "--warehouse", str(data / "bullseye.duckdb")]
                ) == 0
    assert (_listing(demo_home), _listing(repo_var) if repo_var.exists() else {}) == before
    written = _listing(data)
    assert {"published", "exports", "quality", "logs"} <= {Path(f).parts[0] for f in written}, sorted(written)
    assert (data / "quality" / "gx" / "great_expectations.yml").is_file()  # its own GE context
    assert (demo_home / "quality" / "gx" / "great_expectations.yml").is_file()  # and the demo's, untouched
    assert (data / "exports" / "2026-06-01" / "manifest.json").is_file()
    named = [f for f in written if str(demo_home).encode() in (data / f).read_bytes()]
    assert not named, named
    con = duckdb.connect(str(data / "published" / "bullseye.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(phone) FROM marts.dim_customer").fetchall() == [(2, 2)]
    assert con.execute("SELECT customer_id, frequency FROM marts.customer_rfm ORDER BY frequency").fetchall()[1][1] == 2
    con.close()


def test_landing_without_customers_fails_clearly(tmp_path):
    land = tmp_path / "land"
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    cfg = RunConfig(landing=land, warehouse=tmp_path / "w.duckdb", as_of=date(2026, 6, 1))
    with pytest.raises(PipelineError, match="crm_customers"):
        step_load(cfg)


def _copy_night(night, tmp_path: Path, as_of: str) -> RunConfig:
    """A copy of the committed warehouse of the module's night, to run dbt on by hand."""
    import shutil

    home, _, _ = night
    shutil.copy(home / "warehouse" / "bullseye.duckdb", tmp_path / "bullseye.duckdb")
    return RunConfig(landing=tmp_path, warehouse=tmp_path / "bullseye.duckdb", as_of=as_of, home=tmp_path / "home")


def test_dbt_full_refresh_by_hand_keeps_the_history(night, tmp_path):
    """A habitual `dbt build --full-refresh` rebuilds the marts from the declared history (history.*) and
    never erases it: caps, waves and the lifecycle hysteresis still see every earlier night. (With the
    incremental models of before, a full refresh kept tonight's rows only.)"""
    from bullseye.transform import run_dbt

    cfg = _copy_night(night, tmp_path, AS_OF)
    db = cfg.warehouse
    con = duckdb.connect(str(db))
    try:  # an earlier night in the history: the rows a full refresh must not lose
        con.execute("INSERT INTO history.contact_decisions SELECT * REPLACE (DATE '2026-11-20' AS run_date) "
                    f"FROM history.contact_decisions WHERE run_date = DATE '{AS_OF}'")
        con.execute("INSERT INTO history.lifecycle_stages SELECT * REPLACE (DATE '2026-11-20' AS as_of_date) "
                    f"FROM history.lifecycle_stages WHERE as_of_date = DATE '{AS_OF}'")
    finally:
        con.close()
    history_before = db_rows(db, "SELECT * FROM history.contact_decisions ORDER BY ALL")
    stages_before = db_rows(db, "SELECT * FROM history.lifecycle_stages ORDER BY ALL")
    earlier = [r for r in history_before if str(r[0]) == "2026-11-20"]
    assert earlier and stages_before
    run_dbt(cfg, "build", "--full-refresh", "--select", "int_activation__decision_history",
            "int_activation__list_history", "contact_decisions", "target_lists", "int_customer__lifecycle")
    assert db_rows(db, "SELECT * FROM history.contact_decisions ORDER BY ALL") == history_before
    assert db_rows(db, "SELECT * FROM history.lifecycle_stages ORDER BY ALL") == stages_before
    assert db_rows(db, "SELECT * FROM marts.contact_decisions WHERE run_date = DATE '2026-11-20' "
                       "ORDER BY ALL") == earlier
    assert db_rows(db, "SELECT count(*) FROM intermediate.int_customer__lifecycle WHERE as_of_date = DATE '2026-11-20'"
                 )[0][0] == len(stages_before) // 2


def test_dbt_without_the_identity_step_fails_on_stale_clusters(night, tmp_path):
    """identity.clusters says which night it was resolved for; a build for another night without the
    identity step stops at the source test instead of publishing last night's people as tonight's."""
    from bullseye.transform import TransformError, run_dbt

    for sub in ("same", "other"):
        (tmp_path / sub).mkdir()
    run_dbt(_copy_night(night, tmp_path / "same", AS_OF), "test", "--select", "source:identity.clusters")
    with pytest.raises(TransformError, match="identity_clusters_are_tonights"):
        run_dbt(_copy_night(night, tmp_path / "other", "2026-11-25"), "test", "--select", "source:identity.clusters")


def test_dbt_without_a_run_date_fails_with_a_clear_message(night, tmp_path):
    """as_of has no default: a build by hand without it must not run some past night (and roll identity
    state back); it stops at compile time saying what to pass."""
    from dbt.cli.main import dbtRunner

    from bullseye.config import DBT_PROJECT_DIR
    from bullseye.transform import _dbt_env

    cfg = _copy_night(night, tmp_path, AS_OF)
    with _dbt_env(cfg):
        res = dbtRunner().invoke(["compile", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                                  str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"), "--log-path",
                                  str(tmp_path / "logs"), "--select", "stg_sales__orders", "--quiet"])
    assert not res.success
    assert "var as_of (the run date) is not set" in str(res.exception) + str(res.result)


def test_no_greeting_goes_out_after_its_date(night):
    """Issue 16: birthday greetings were counted from the run date while lists go out the next day, so 4 of 29
    arrived after the birthday. Every dated greeting occasion tonight (birthdays, lunar birthdays, wedding
    anniversaries, festivals) has its date on or after the day the lists are sent, and so has every occasion a
    campaign decided on (included or not); overdue occasions are allowed only for service steps and for
    anniversaries of a campaign that asks for them (include_overdue)."""
    home, _, _ = night
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    greetings = "('birthday', 'lunar_birthday', 'wedding_anniversary', 'festival')"
    try:
        send = con.execute("SELECT DISTINCT send_date FROM marts.contact_decisions WHERE run_date = ?",
                           [AS_OF]).fetchall()
        occasions = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE event_date < ?)
            FROM intermediate.int_activation__triggers WHERE trigger_type IN {greetings}""",
                                [send[0][0]]).fetchall()[0]
        decided = con.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE t.event_date < d.send_date)
            FROM marts.contact_decisions d
            JOIN intermediate.int_activation__triggers t USING (customer_id, occurrence_key)
            WHERE d.run_date = ? AND t.trigger_type IN {greetings}""", [AS_OF]).fetchall()[0]
    finally:
        con.close()
    assert len(send) == 1, send  # one send date a night
    assert occasions[0] > 0 and decided[0] > 0, (occasions, decided)
    assert (occasions[1], decided[1]) == (0, 0), (occasions, decided)


def test_quality_results_are_stored_per_table_with_severity(night):
    """The demo night (run twice) stores one row per check in meta.quality_results under its run date, the
    second run replacing the first; suites are named by table, target_lists carries its consent, reason, key and
    orphan checks, nothing critical failed (the night published), and quality.html sits in the quality folder."""
    home, _, _ = night
    wh = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    rows = wh.execute("SELECT run_date::VARCHAR, table_name, suite, severity, success FROM meta.quality_results"
                      ).fetchall()
    wh.close()
    assert {r[0] for r in rows} == {AS_OF}
    assert all(r[1] == r[2] and r[1].count(".") == 1 for r in rows)
    assert not [r for r in rows if r[3] == "critical" and not r[4]]
    assert sum(r[1] == "marts.target_lists" for r in rows) >= 5
    assert len(rows) >= 45
    page = (home / "quality" / "quality.html").read_text(encoding="utf-8")
    assert f"Quality checks of {AS_OF}" in page
