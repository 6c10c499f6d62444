"""Small hand-made worlds for the contact-policy engine: an in-memory DuckDB with its input tables."""

from __future__ import annotations

from datetime import date

import duckdb

from bullseye.activation.campaigns import AUDIENCE_COLUMNS, TRIGGER_COLUMNS, parse_campaign, parse_policy
from bullseye.activation.ledger import build_ledger
from bullseye.activation.policy import PlanInputs, plan_night

CONTACT_COLUMNS = {"phone": "VARCHAR", "email": "VARCHAR", "wechat_unionid": "VARCHAR", "address": "VARCHAR",
                   "household_key": "VARCHAR"}

POLICY = {
    "caps": {"total": {7: 2, 30: 4}, "sms": {7: 1, 30: 3}, "mail": {30: 1}},
    "quiet_hours": {"sms": ["09:00", "20:00"], "phone": ["10:00", "19:00"], "email": ["08:00", "21:00"],
                    "wechat": ["09:00", "21:00"], "mail": ["00:00", "23:59"]},
    "blackout_dates": {"phone": ["2026-10-02"]},
    # The kit opens customers' channels for marketing on a stated basis so that the other rules can be
    # seen at work; the shipped policy opens nothing for marketing without consent.
    "open_without_consent": {
        "marketing": {"customer": {"sms": "contract", "email": "contract", "mail": "contract", "phone": "contract"},
                      "lead": {"sms": "public"}},
        "service": {"customer": {ch: "contract" for ch in ("sms", "email", "mail", "phone", "wechat")}},
    },
    "sms_signature": "【靶心】",
    "sms_opt_out_text": "回T退订",
}
RUN = date(2026, 6, 1)  # lists are for 2026-06-02


def person(cid: str, status: str = "customer", **kw) -> dict:
    row = {"customer_id": cid, "customer_status": status, "is_customer": status == "customer",
           "phone": f"+86138{abs(hash(cid)) % 10**8:08d}", "email": f"{cid.lower()}@example.com",
           "address": f"{cid} road 1", "value_tier": "MVC", "lifecycle_stage": "dormant",
           "response_propensity": 0.1}
    row.update(kw)
    return row


def campaign(cid: str, **kw):
    raw = {"id": cid, "name": cid, "objective": "retain", "audience": "true", "channels": ["sms"],
           "start": "2026-01-01", "end": "2026-12-31", "priority": 10}
    raw.update(kw)
    c, problems = parse_campaign(raw, f"{cid}.yml", policy())
    assert not problems, problems
    return c


def policy(**kw):
    return parse_policy({**POLICY, **kw})


def world(people: list[dict], consents=(), lists=(), contacts=(), plans=(), triggers=(), address_consents=()):
    """consents: (customer_id, channel, status, ts); address_consents: (address_type, address_key, channel,
    status, ts) for a number or email whoever carries it; lists: (customer_id, list_id, [channels],
    expires_at[, legal_basis]) (basis consent_with_transfer when left out); contacts: (customer_id,
    campaign_id, channel, sent_at[, address_key]); plans: (send_date, campaign_id, customer_id, channel,
    occurrence_key, wave, is_holdout); triggers: dicts of TRIGGER_COLUMNS + customer_id."""
    con = duckdb.connect()
    cols = {**AUDIENCE_COLUMNS, **CONTACT_COLUMNS}
    con.execute("CREATE TABLE audience (" + ", ".join(f"{c} {t}" for c, t in cols.items()) + ")")
    for p in people:
        names = list(p)
        con.execute(f"INSERT INTO audience ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [p[n] for n in names])
    tcols = {"customer_id": "VARCHAR", **TRIGGER_COLUMNS}
    con.execute("CREATE TABLE triggers (" + ", ".join(f"{c} {t}" for c, t in tcols.items()) + ")")
    for t in triggers:
        names = list(t)
        con.execute(f"INSERT INTO triggers ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [t[n] for n in names])
    _table(con, "consents", "customer_id VARCHAR, channel VARCHAR, status VARCHAR, ts TIMESTAMP, reason VARCHAR, "
           "address_type VARCHAR, address_key VARCHAR", consents, "customer_id, channel, status, ts")
    rows = list(address_consents)
    if rows:
        con.executemany("INSERT INTO consents (address_type, address_key, channel, status, ts) VALUES (?, ?, ?, ?, ?)",
                        rows)
    _table(con, "list_terms", "customer_id VARCHAR, list_id VARCHAR, permitted_channels VARCHAR[], expires_at DATE, "
           "legal_basis VARCHAR", [(*t, "consent_with_transfer") if len(t) == 4 else tuple(t) for t in lists])
    _table(con, "contacts", "customer_id VARCHAR, campaign_id VARCHAR, channel VARCHAR, sent_at TIMESTAMP, "
           "address_key VARCHAR", [(*c, None) if len(c) == 4 else tuple(c) for c in contacts])
    _table(con, "plans", "send_date DATE, campaign_id VARCHAR, customer_id VARCHAR, channel VARCHAR, "
           "occurrence_key VARCHAR, wave INTEGER, is_holdout BOOLEAN", plans)
    return con


def _table(con, name: str, columns: str, rows, insert_columns: str | None = None) -> None:
    con.execute(f"CREATE TABLE {name} ({columns})")
    rows = list(rows)
    if rows:
        cols = f" ({insert_columns})" if insert_columns else ""
        con.executemany(f"INSERT INTO {name}{cols} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def plan(con, campaigns, pol=None, run_date: date = RUN):
    pol = pol or policy()
    build_ledger(con, "contacts", "plans", pol.ledger_match_days, carriers="audience").create("ledger")
    tables = PlanInputs("audience", "triggers", "consents", "list_terms", "ledger")
    return plan_night(con, campaigns, pol, run_date, tables)


def decision(df, customer_id: str, campaign_id: str | None = None) -> dict:
    rows = df[(df.customer_id == customer_id) & ((df.campaign_id == campaign_id) if campaign_id else True)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()
