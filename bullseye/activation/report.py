"""The night report: ``exports/<run_date>/report.html``, one page a marketer can read offline.

Why a page and not the terminal table: a night writes dozens of files, and the counts a
marketer needs (lists and why people are off them, segments and their flows, store KPIs,
campaign results, purchased lists, quality) sit in several marts. The page reads them from
the night's working warehouse (marts + meta) and inlines everything: CSS in a ``<style>``,
charts as SVG drawn by matplotlib, one small filter script for the "why (not) on a list"
table. Nothing is fetched from the network, so it opens the same on a laptop without access.

Personal data is masked to what the lookup needs (PIPL Art. 6, least data): the name's
first character and the phone's last four digits, next to the customer id.
"""

from __future__ import annotations

import html
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bullseye.activation import why
from bullseye.privacy.masking import mask_name_sql
from bullseye.warehouse import connect

REPORT_NAME = "report.html"
STALE_SUITE = pd.Timedelta(hours=1)  # one check pass runs every suite within minutes
WHY_ROWS_LIMIT = 50_000  # rows of the searchable table; above it the page says how many were left out
UNSELECTED_SHOWN = 200  # people on no list whose per-campaign answers the table carries (explain() per person)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:0 auto;max-width:1200px;
padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #2a6f97;padding-bottom:.2rem;margin-top:2.2rem;color:#2a6f97}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#eef4f8}td.num,th.num{text-align:right}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem}.kpi{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem}
.kpi b{display:block;font-size:1.4rem}.chart svg{max-width:100%;height:auto}
.fail{color:#b00020;font-weight:bold}.ok{color:#2e7d32}.muted{color:#777}
nav a{margin-right:.8rem}.scroll{overflow-x:auto}#why-filter{width:28rem;padding:.3rem}
"""

FILTER_JS = """
(function(){var box=document.getElementById('why-filter');var rows=document.querySelectorAll('#why tbody tr');
var count=document.getElementById('why-count');
box.addEventListener('input',function(){var q=box.value.trim().toLowerCase();var n=0;
rows.forEach(function(r){var show=!q||r.textContent.toLowerCase().indexOf(q)>=0;r.style.display=show?'':'none';
if(show)n++;});count.textContent=n;});})();
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _cell(value: object) -> str:
    """A readable cell: integers with thousands separators, small ratios to 4 significant digits, money to 2 places."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(value).lower()
    if isinstance(value, pd.Timestamp):  # DuckDB dates arrive as midnight timestamps
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int | float) and float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, Decimal | np.number):  # DECIMAL columns, numpy numbers
        return _cell(float(value))
    return str(value)


def _table(df: pd.DataFrame, table_id: str = "") -> str:
    """An HTML table of a frame (values escaped by pandas), or a line saying there is nothing."""
    if df.empty:
        return '<p class="muted">None tonight.</p>'
    shown = df.astype(object).map(_cell)
    inner = shown.to_html(index=False, border=0, escape=True, table_id=table_id or None)
    return f'<div class="scroll">{inner}</div>'


def _svg(fig) -> str:
    """A matplotlib figure as inline SVG markup (text kept as text, so the page stays small)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # no date and fixed element ids: a re-run night writes the same page (its checksum is in the manifest)
    with plt.rc_context({"svg.hashsalt": "bullseye"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    return '<div class="chart">' + svg[svg.index("<svg"):] + "</div>"


def _figure(width: float = 7.0, height: float = 3.0):
    import matplotlib

    matplotlib.use("Agg", force=False)
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _bar_chart(labels: list[str], values: list[float], title: str, horizontal: bool = False) -> str:
    fig, ax = _figure(7.0, max(2.2, 0.32 * len(labels) + 1) if horizontal else 3.0)
    if horizontal:
        ax.barh(labels, values, color="#2a6f97")
        ax.invert_yaxis()
    else:
        ax.bar(labels, values, color="#2a6f97")
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                            [schema, table]).fetchone()[0]
                or con.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
                               [schema, table]).fetchone()[0])


def _missing(name: str) -> str:
    return f'<p class="muted">{_esc(name)} is not in this warehouse: the step that builds it did not run.</p>'


# --- sections -------------------------------------------------------------------------------------------------


def section_summary(con, as_of: date) -> str:
    """Rows in, loaded and quarantined (meta.load_ledger), and the quarantine by reason (meta.quarantine)."""
    night = _query(con, """SELECT count(*) AS deliveries, coalesce(sum(rows_in), 0) AS rows_in,
        coalesce(sum(rows_loaded), 0) AS rows_loaded, coalesce(sum(rows_quarantined), 0) AS rows_quarantined,
        coalesce(sum(values_quarantined), 0) AS values_quarantined
        FROM meta.load_ledger WHERE run_id = ?""", [as_of.isoformat()]).iloc[0]
    total = _query(con, """SELECT count(*) AS n, coalesce(sum(rows_loaded), 0) AS rows FROM meta.load_ledger
        WHERE run_id <= ?""", [as_of.isoformat()]).iloc[0]
    by_source = _query(con, """SELECT source, count(*) AS deliveries, sum(rows_in) AS rows_in,
        sum(rows_loaded) AS rows_loaded, sum(rows_quarantined) AS rows_quarantined
        FROM meta.load_ledger WHERE run_id = ? GROUP BY ALL ORDER BY source""", [as_of.isoformat()])
    reasons = _query(con, """SELECT q.source, q.reason, q.action, count(*) AS n FROM meta.quarantine q
        JOIN meta.load_ledger l USING (delivery_id) WHERE l.run_id = ? GROUP BY ALL ORDER BY n DESC, 1, 2, 3""",
                     [as_of.isoformat()])
    cards = "".join(f'<div class="kpi">{label}<b data-figure="{key}">{int(night[key]):,}</b></div>'
                    for key, label in [("deliveries", "new deliveries"), ("rows_in", "rows in"),
                                       ("rows_loaded", "rows loaded"), ("rows_quarantined", "rows quarantined"),
                                       ("values_quarantined", "values quarantined")])
    out = [f'<div class="kpis">{cards}</div>',
           f'<p class="muted">All nights up to this one: {int(total["n"]):,} deliveries, '
           f'{int(total["rows"]):,} rows loaded.</p>',
           "<h3>Tonight's deliveries by source</h3>", _table(by_source),
           "<h3>Quarantine by reason</h3>", _table(reasons)]
    return "".join(out)


def section_identity(con, as_of: date) -> str:
    """People, merges, splits and drift of tonight's identity run (identity.runs), with recent nights."""
    if not _has(con, "identity", "runs"):
        return _missing("identity.runs")
    runs = _query(con, """SELECT as_of, model_trained_on, records, people, new_people, merges, splits,
        round(changed_share, 4) AS changed_share, blocked, block_reason, matching_note
        FROM identity.runs WHERE as_of <= ? ORDER BY as_of DESC LIMIT 7""", [as_of])
    people = con.execute("SELECT count(*), count(*) FILTER (WHERE is_customer) FROM marts.dim_customer").fetchone()
    tonight = runs[runs["as_of"].astype(str).str[:10] == as_of.isoformat()]
    cards = [f'<div class="kpi">people<b data-figure="people">{people[0]:,}</b></div>',
             f'<div class="kpi">customers<b data-figure="customers">{people[1]:,}</b></div>']
    if len(tonight):
        row = tonight.iloc[0]
        for key in ("new_people", "merges", "splits"):
            cards.append(f'<div class="kpi">{key.replace("_", " ")}<b>{int(row[key] or 0):,}</b></div>')
        cards.append(f'<div class="kpi">drift (ids changed)<b>{float(row["changed_share"] or 0):.2%}</b></div>')
    return f'<div class="kpis">{"".join(cards)}</div><h3>Recent identity runs</h3>' + _table(runs)


def section_lists(con, as_of: date) -> tuple[str, pd.DataFrame]:
    """Per campaign: the funnel candidates -> included (to contact + holdout), and counts per exclusion reason."""
    if not _has(con, "marts", "contact_decisions"):
        return _missing("marts.contact_decisions"), pd.DataFrame()
    funnel = _query(con, """SELECT campaign_id, count(DISTINCT customer_id) AS candidates,
        count(DISTINCT customer_id) FILTER (WHERE decision = 'excluded') AS excluded,
        count(DISTINCT customer_id) FILTER (WHERE decision = 'deferred') AS deferred,
        count(*) FILTER (WHERE decision = 'included') AS included,
        count(*) FILTER (WHERE decision = 'included' AND is_holdout) AS holdout,
        count(*) FILTER (WHERE decision = 'included' AND NOT is_holdout) AS to_contact
        FROM marts.contact_decisions WHERE run_date = ? GROUP BY ALL ORDER BY campaign_id""", [as_of])
    reasons = _query(con, """SELECT campaign_id, decision, reason, count(*) AS n FROM marts.contact_decisions
        WHERE run_date = ? GROUP BY ALL ORDER BY campaign_id, decision DESC, n DESC, reason""", [as_of])
    out = [_table(funnel, "funnel")]
    if len(funnel):
        fig, ax = _figure(8.0, max(2.4, 0.45 * len(funnel) + 1))
        y = np.arange(len(funnel))
        for col, colour, label in [("candidates", "#a9c7da", "candidates"), ("included", "#2a6f97", "included"),
                                   ("to_contact", "#f4a259", "to contact (not holdout)")]:
            ax.barh(y, funnel[col], color=colour, label=label, height=0.6 if col == "candidates" else 0.4)
        ax.set_yticks(y, funnel["campaign_id"])
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title("Funnel per campaign")
        ax.spines[["top", "right"]].set_visible(False)
        out.insert(0, _svg(fig))
    out += ["<h3>Counts per reason</h3>", _table(reasons)]
    return "".join(out), funnel


def section_segments(con, as_of: date) -> str:
    """Tier, grade and lifecycle distributions, and flows since the last night (the snapshot's versions)."""
    seg = _query(con, """SELECT coalesce(value_tier, '(no purchase)') AS value_tier,
        coalesce(grade, '(none)') AS grade, lifecycle_stage FROM marts.customer_segments""")
    out = []
    for col in ("value_tier", "grade", "lifecycle_stage"):
        counts = seg[col].value_counts().sort_index()
        out.append(_bar_chart([str(x) for x in counts.index], counts.tolist(), f"{col.replace('_', ' ')}: people"))
    out = ['<div class="kpis">' + "".join(out) + "</div>"]
    if not _has(con, "marts", "customer_segments_history"):
        return "".join(out) + _missing("marts.customer_segments_history (flows)")
    prev = con.execute("""SELECT max(dbt_valid_from) FROM marts.customer_segments_history
                          WHERE dbt_valid_from < ?""", [as_of]).fetchone()[0]
    if prev is None:
        out.append('<p class="muted">No earlier night in the segment history: flows start with the next night.</p>')
        return "".join(out)
    for col in ("value_tier", "grade", "lifecycle_stage"):
        flows = _query(con, f"""SELECT coalesce(o.{col}, '(none)') AS "from", coalesce(n.{col}, '(none)') AS "to",
            count(*) AS people
            FROM marts.customer_segments_history n
            LEFT JOIN marts.customer_segments_history o
              ON o.customer_id = n.customer_id AND o.dbt_valid_to = n.dbt_valid_from
            WHERE n.dbt_valid_from = ? AND o.{col} IS DISTINCT FROM n.{col}
            GROUP BY ALL ORDER BY people DESC, 1, 2 LIMIT 25""", [as_of])
        out.append(f"<h3>{col.replace('_', ' ')} flows since {_esc(str(prev)[:10])}</h3>" + _table(flows))
    return "".join(out)


def section_kpis(con, as_of: date) -> str:
    """Per store: this month against last month (marts.kpi_store_monthly)."""
    if not _has(con, "marts", "kpi_store_monthly"):
        return _missing("marts.kpi_store_monthly")
    this_month = as_of.replace(day=1)
    df = _query(con, """WITH k AS (SELECT * FROM marts.kpi_store_monthly)
        SELECT c.store_id, c.revenue, p.revenue AS revenue_last_month,
          round(c.revenue / nullif(p.revenue, 0) - 1, 4) AS revenue_change,
          c.orders, p.orders AS orders_last_month, c.buyers, p.buyers AS buyers_last_month,
          c.revenue_target, c.attainment, c.store_visit_rate, p.store_visit_rate AS visit_rate_last_month
        FROM k c LEFT JOIN k p ON p.store_id = c.store_id AND p.month = c.month - INTERVAL 1 MONTH
        WHERE c.month = ? ORDER BY c.revenue DESC, c.store_id""", [this_month])
    out = [f'<p class="muted">Month {this_month:%Y-%m} up to {as_of} against the whole of the month before.</p>']
    if len(df):
        fig, ax = _figure(8.0, 3.0)
        x = np.arange(len(df))
        ax.bar(x - 0.2, df["revenue_last_month"].fillna(0).astype(float), 0.4, label="last month", color="#a9c7da")
        ax.bar(x + 0.2, df["revenue"].astype(float), 0.4, label="this month", color="#2a6f97")
        ax.set_xticks(x, df["store_id"], rotation=30)
        ax.legend(fontsize=8)
        ax.set_title("Revenue per store (yuan)")
        ax.spines[["top", "right"]].set_visible(False)
        out.append(_svg(fig))
    return "".join(out) + _table(df)


def section_campaigns(con) -> str:
    """Campaign results: sent to converted, ROI, and incremental margin/ROI with its interval."""
    if not _has(con, "marts", "campaign_results"):
        return _missing("marts.campaign_results")
    df = _query(con, """SELECT campaign_id, wave, wave_name, sent, delivered, responded, converted, revenue, margin,
        cost, roi, uplift, uplift_ci_low, uplift_ci_high, incremental_margin, incremental_margin_ci_low,
        incremental_margin_ci_high, incremental_roi, incremental_roi_ci_low, incremental_roi_ci_high,
        incremental_note FROM marts.campaign_results ORDER BY campaign_id, wave NULLS LAST""")
    out = []
    if len(df):
        labels = [f"{c} w{int(w)}" if pd.notna(w) else str(c) for c, w in zip(df["campaign_id"], df["wave"],
                                                                              strict=True)]
        fig, ax = _figure(8.0, max(2.4, 0.45 * len(df) + 1))
        y = np.arange(len(df))
        for offset, col, colour in [(-0.25, "revenue", "#a9c7da"), (0, "margin", "#2a6f97"), (0.25, "cost", "#f4a259")]:
            ax.barh(y + offset, df[col].fillna(0).astype(float), 0.25, label=col, color=colour)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.legend(fontsize=8)
        ax.set_title("Credited revenue, margin and cost per campaign (yuan)")
        ax.spines[["top", "right"]].set_visible(False)
        out.append(_svg(fig))
    est = df.dropna(subset=["incremental_margin"])
    if len(est):
        fig, ax = _figure(8.0, max(2.2, 0.4 * len(est) + 1))
        labels = [f"{c} w{int(w)}" if pd.notna(w) else str(c) for c, w in zip(est["campaign_id"], est["wave"],
                                                                                strict=True)]
        mid = est["incremental_margin"].astype(float)
        low = (mid - est["incremental_margin_ci_low"].astype(float)).clip(lower=0)
        high = (est["incremental_margin_ci_high"].astype(float) - mid).clip(lower=0)
        ax.errorbar(mid, range(len(est)), xerr=[low, high], fmt="o", color="#2a6f97", capsize=3)
        ax.axvline(0, color="#999", lw=1)
        ax.set_yticks(range(len(est)), labels)
        ax.invert_yaxis()
        ax.set_title("Incremental margin over the holdout (yuan, 95% interval)")
        ax.spines[["top", "right"]].set_visible(False)
        out.append(_svg(fig))
    elif len(df):
        out.append('<p class="muted">No campaign has an incremental margin yet (no holdout, or its window has not '
                   "closed): incremental_note says why for each.</p>")
    return "".join(out) + _table(df)


def section_scorecards(con) -> str:
    if not _has(con, "marts", "list_scorecards"):
        return _missing("marts.list_scorecards")
    return _table(_query(con, """SELECT list_id, vendor, acquired_at, rows_delivered, rows_loaded, rows_quarantined,
        top_quarantine_reasons, records, valid_phone_rate, people, duplicates_within_list, net_new_people,
        already_suppressed, contacted, responded, bought, cost, cost_per_net_new_person, cost_per_buyer
        FROM marts.list_scorecards ORDER BY list_id"""))


def _observed(value: object) -> str:
    """GE's observed value, numbers shortened (a share of unexpected rows comes with 15 digits)."""
    return _cell(value) if isinstance(value, int | float) else str(value)


def quality_results(quality_dir: Path | None, stale: list[str] | None = None) -> pd.DataFrame:
    """The latest Great Expectations result of each suite, read from the check step's GE context.

    bullseye.quality runs every suite through a GE checkpoint, which stores each validation
    result as JSON under ``gx/uncommitted/validations``; the severity and note of each
    expectation travel in its ``meta`` (from expectations/*.yml). A suite whose latest result
    is older than the newest one by more than STALE_SUITE was not part of the last check pass
    (renamed or dropped); it is left out and its name appended to ``stale``."""
    stale = [] if stale is None else stale
    cols = ["suite", "expectation", "column", "severity", "success", "observed", "note", "run_time"]
    if quality_dir is None or not quality_dir.exists():
        return pd.DataFrame(columns=cols)
    latest: dict[str, tuple[str, dict]] = {}
    for path in quality_dir.glob("**/uncommitted/validations/**/*.json"):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        meta = doc.get("meta") or {}
        suite = meta.get("expectation_suite_name") or doc.get("suite_name") or path.parts[-4]
        run_time = str((meta.get("run_id") or {}).get("run_time") or meta.get("validation_time") or "")
        if suite not in latest or run_time > latest[suite][0]:
            latest[suite] = (run_time, doc)
    rows = []
    newest = max((pd.Timestamp(t) for t, _ in latest.values() if t), default=None)
    for suite, (run_time, doc) in sorted(latest.items()):
        if newest is not None and run_time and pd.Timestamp(run_time) < newest - STALE_SUITE:
            stale.append(suite)  # a suite the last check pass did not run (renamed or removed)
            continue
        for r in doc.get("results", []):
            cfg = r.get("expectation_config") or {}
            kwargs = cfg.get("kwargs") or {}
            res = r.get("result") or {}
            exp_meta = cfg.get("meta") or {}
            rows.append({"suite": suite, "expectation": cfg.get("type") or cfg.get("expectation_type"),
                         "column": kwargs.get("column", ""), "severity": exp_meta.get("severity", "critical"),
                         "success": bool(r.get("success")),
                         "observed": _observed(res.get("observed_value", res.get("unexpected_percent", ""))),
                         "note": exp_meta.get("note", ""), "run_time": run_time[:19]})
    return pd.DataFrame(rows, columns=cols)


def section_quality(quality_dir: Path | None) -> str:
    stale: list[str] = []
    df = quality_results(quality_dir, stale)
    left_out = (f'<p class="muted">Left out, not run by the last check pass: {_esc(", ".join(stale))}.</p>'
                if stale else "")
    if df.empty:
        return '<p class="muted">No quality results found (the check step did not run for this home).</p>'
    failed = df[~df["success"]]
    head = (f'<p><span data-figure="checks">{len(df)}</span> checks: <span class="ok">{int(df["success"].sum())} '
            f'passed</span>, <span class="fail">{int((~df["success"] & (df["severity"] == "critical")).sum())} '
            f'critical failed</span>, {int((~df["success"] & (df["severity"] != "critical")).sum())} '
            "warnings.</p>")
    # without the check's wall-clock time: a re-run night writes the same page (its checksum is in the manifest)
    order = pd.concat([failed, df[df["success"]]]).drop(columns=["run_time"])
    return head + left_out + _table(order)


def _masked_sql(alias: str) -> str:
    """SQL columns ``name, phone_last4`` of a dim_customer row: the name's first character, the phone's last 4."""
    return (f"{mask_name_sql(f'{alias}.name')} AS name, CASE WHEN {alias}.phone IS NULL THEN NULL "
            f"ELSE '…' || right(regexp_replace({alias}.phone, '[^0-9]', '', 'g'), 4) END AS phone_last4")


def why_rows(con, as_of: date) -> pd.DataFrame:
    """One row per campaign and candidate tonight, with a masked name and the phone's last four digits."""
    return _query(con, f"""SELECT d.campaign_id, d.customer_id, {_masked_sql('c')},
        d.decision, d.reason, d.detail
        FROM marts.contact_decisions d LEFT JOIN marts.dim_customer c USING (customer_id)
        WHERE d.run_date = ? ORDER BY d.customer_id, d.campaign_id LIMIT {WHY_ROWS_LIMIT + 1}""", [as_of])


def _masked_people(con, ids: list[str]) -> pd.DataFrame:
    """customer_id, masked name and the phone's last four digits of ``ids`` (as in why_rows)."""
    con.register("__bz_ids", pd.DataFrame({"customer_id": ids}))
    try:
        return _query(con, f"""SELECT i.customer_id, {_masked_sql('c')}
            FROM __bz_ids i LEFT JOIN marts.dim_customer c USING (customer_id)""")
    finally:
        con.unregister("__bz_ids")


def unselected_rows(con, as_of: date, ids: list[str]) -> pd.DataFrame:
    """Rows in the why table's shape for people no campaign decided on: per active campaign, why its selection
    left them out (bullseye.activation.why.explain). Campaigns not active tonight are left to the steps table."""
    answers = [a for a in why.explain(con, ids, as_of, masked=True) if a.outcome != "not active"]
    df = pd.DataFrame([(a.campaign_id, a.customer_id, a.outcome, "no list tonight", a.why) for a in answers],
                      columns=["campaign_id", "customer_id", "decision", "reason", "detail"])
    if not len(df):
        return df
    df = df.merge(_masked_people(con, ids), on="customer_id", how="left")
    return df[["campaign_id", "customer_id", "name", "phone_last4", "decision", "reason", "detail"]]


def section_why(con, as_of: date) -> str:
    if not _has(con, "marts", "contact_decisions"):
        return _missing("marts.contact_decisions")
    df = why_rows(con, as_of)
    notes = []
    cut = len(df) > WHY_ROWS_LIMIT
    if cut:
        total = con.execute("SELECT count(*) FROM marts.contact_decisions WHERE run_date = ?", [as_of]).fetchone()[0]
        df = df.head(WHY_ROWS_LIMIT)
        notes.append(f'<p class="fail">The table shows the first {WHY_ROWS_LIMIT:,} of {total:,} decisions; '
                     "`bullseye lists why PERSON` answers for anyone.</p>")
    steps = why.clause_misses(con, as_of)
    nobody = why.unselected(con, as_of, UNSELECTED_SHOWN)
    if steps is None or nobody is None:
        notes.append('<p class="muted">This warehouse no longer holds the night\'s audience, so the people no '
                     "campaign selected cannot be explained here.</p>")
    else:
        total, shown = nobody
        notes.append(f'<p><b data-figure="unselected">{total:,}</b> people of tonight\'s audience are on no '
                     "list and were excluded by no campaign: no campaign selected them. The table below says, per "
                     "campaign, how many people each step of its selection leaves out (a person counts under every "
                     "clause they fail).</p>")
        notes.append(_table(pd.DataFrame(steps, columns=["campaign_id", "selection step", "people left out",
                                                          "audience"]), "why-steps"))
        if shown:
            df = pd.concat([df, unselected_rows(con, as_of, shown)], ignore_index=True)
            more = (f" (the first {len(shown):,} by customer id; `bullseye lists why PERSON` answers for the rest)"
                    if total > len(shown) else "")
            held = f"the first {WHY_ROWS_LIMIT:,} decisions of the night" if cut else "every decision of the night"
            notes.append(f'<p class="muted">The searchable table holds {held} and, for {len(shown):,} people '
                         f"on no list{more}, why each active campaign left them out (reason: no list tonight; "
                         "personal values shown as …).</p>")
    search = ('<p><input id="why-filter" type="search" placeholder="customer id, last 4 digits of the phone, '
              f'campaign or reason"> <span id="why-count">{len(df):,}</span> rows</p>')
    return "".join(notes) + search + _table(df, "why") + f"<script>{FILTER_JS}</script>"


# --- the page -------------------------------------------------------------------------------------------------


def render(con: duckdb.DuckDBPyConnection, as_of: date, quality_dir: Path | None = None) -> str:
    """The whole page as one string."""
    lists_html, _ = section_lists(con, as_of)
    sections = [
        ("summary", "Night summary", section_summary(con, as_of)),
        ("identity", "Identity", section_identity(con, as_of)),
        ("lists", "Lists per campaign", lists_html),
        ("segments", "Tiers, grades and lifecycle", section_segments(con, as_of)),
        ("kpis", "Store KPIs: this month against last month", section_kpis(con, as_of)),
        ("campaigns", "Campaign results", section_campaigns(con)),
        ("scorecards", "Purchased-list scorecards", section_scorecards(con)),
        ("quality", "Quality checks", section_quality(quality_dir)),
        ("why", "Why is this person (not) on each list", section_why(con, as_of)),
    ]
    nav = "".join(f'<a href="#{key}">{_esc(title)}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_esc(title)}</h2>{content}</section>' for key, title, content in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bullseye night {as_of}</title>'
            f"<style>{CSS}</style></head><body><h1>bullseye night report {as_of}</h1>"
            f'<p class="muted">Built from the night\'s working warehouse. Names and phones are masked.</p>'
            f"<nav>{nav}</nav>{body}</body></html>")


def write_report(warehouse: Path, as_of: date, out_dir: Path, quality_dir: Path | None = None) -> Path:
    """Write ``out_dir/report.html`` from the warehouse (read only) and return its path."""
    con = connect(warehouse, read_only=True)
    try:
        page = render(con, as_of, quality_dir)
    finally:
        con.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_NAME
    path.write_text(page, encoding="utf-8")
    return path
