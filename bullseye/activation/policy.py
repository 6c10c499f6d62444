"""Plan one night: every candidate of every active campaign gets a decision and one reason code.

Inputs are DuckDB relations (the dbt models feed them; tests feed hand-made ones):

- ``audience``: one row per person with the AUDIENCE_COLUMNS plus contact fields
  (phone, email, wechat_unionid, address) and ``household_key``;
- ``triggers``: dated occasions per person (int_activation__triggers);
- ``consents``: customer_id, channel (a channel or ``all``), status (granted, withdrawn,
  do_not_contact), ts: consent events, opt-outs and complaints;
- ``list_terms``: customer_id, list_id, permitted_channels, expires_at: the terms of every
  purchased list the person came from;
- ``ledger``: contacts that count (bullseye.activation.ledger).

Per candidate and channel, in the campaign's order of preference, the rules are checked in
this order: do-not-contact, blackout date, consent (latest event wins; without one, the
policy's default for the person's status, and for prospects the list's permitted channels
and expiry), the contact field the channel needs, then frequency caps from the ledger
including what tonight's higher-priority campaigns already took. The first channel that
passes is used. Campaigns are served in priority order, each taking its best-ranked
people first; a person is given at most ``max_campaigns_per_person_per_night`` campaigns,
one piece of mail goes to a household, and a list stops at its cap. Included people fall
into a stable holdout by a hash of campaign and person, the same on every night.

The sequential part (priority, caps with tonight's plans, households, list caps) runs in
Python over the candidates: it is a greedy allocation that SQL window functions cannot
express, and its order is the policy.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta

import pandas as pd

from bullseye.activation.campaigns import CHANNEL_FIELDS, CONTACT_FIELD, Campaign, ContactPolicy, vet_campaign_sql

DECISION_COLUMNS = ["run_date", "send_date", "campaign_id", "customer_id", "occurrence_key", "wave",
                    "wave_name", "channel", "decision", "reason", "detail", "is_holdout", "rank_score",
                    "priority", "send_after", "send_before"]


def holdout_draw(campaign_id: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by campaign and person: the same holdout on every night and machine."""
    h = hashlib.sha256(f"{campaign_id}|{customer_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]::VARCHAR[]"


def _candidates_sql(c: Campaign) -> str:
    vet_campaign_sql(c)  # the last gate before audience and rank_by are pasted into warehouse SQL
    trig = f"JOIN triggers t ON t.customer_id = a.customer_id AND {c.trigger.condition()}" if c.trigger else ""
    occ = "t.occurrence_key" if c.trigger else f"'{c.id}'"
    event = "t.event_date" if c.trigger else "NULL::DATE"
    # The audience and rank expressions see the audience columns and, with a trigger, t's columns.
    cols = "a.*, t.* EXCLUDE (customer_id)" if c.trigger else "a.*"
    return f"""
    SELECT '{c.id}' AS campaign_id, customer_id, occurrence_key, rank_score FROM (
        SELECT customer_id, occurrence_key, rank_score,
            row_number() OVER (PARTITION BY customer_id ORDER BY event_date NULLS LAST, occurrence_key) AS k
        FROM (
            SELECT x.customer_id, x._occ AS occurrence_key, x._event AS event_date,
                   CAST(({c.rank_by}) AS DOUBLE) AS rank_score
            FROM (SELECT {cols}, {occ} AS _occ, {event} AS _event FROM audience a {trig}) AS x
            WHERE ({c.audience})
        )
    ) WHERE k = 1"""


def consent_state_sql(events: str) -> str:
    """Per person and channel with any event: the latest consent state and do-not-contact.

    ``events`` has customer_id, channel (a channel or 'all'), status, ts, reason. The latest
    granted/withdrawn event on the channel or on 'all' wins (a tie goes to withdrawn). A
    do_not_contact event (do-not-contact requests, opt-outs, complaints) stops every channel
    until a later grant on 'all'.
    """
    return f"""
    WITH ev AS (SELECT customer_id, channel, status, ts, reason FROM {events} WHERE customer_id IS NOT NULL),
    channels AS (SELECT unnest({_sql_list(CHANNEL_FIELDS)}) AS channel),
    latest AS (
        SELECT e.customer_id, c.channel, e.status AS consent_status, e.ts AS consent_at
        FROM ev e JOIN channels c ON e.channel = c.channel OR e.channel = 'all'
        WHERE e.status IN ('granted', 'withdrawn')
        QUALIFY row_number() OVER (PARTITION BY e.customer_id, c.channel
                                   ORDER BY e.ts DESC, e.status = 'granted') = 1
    ),
    dnc AS (
        SELECT d.customer_id, max(d.ts) AS dnc_at, first(d.reason ORDER BY d.ts DESC, d.reason) AS dnc_reason
        FROM ev d
        WHERE d.status = 'do_not_contact'
          AND NOT EXISTS (SELECT 1 FROM ev g WHERE g.customer_id = d.customer_id AND g.channel = 'all'
                          AND g.status = 'granted' AND g.ts > d.ts)
        GROUP BY 1
    ),
    pairs AS (
        SELECT customer_id, channel FROM latest
        UNION
        SELECT d.customer_id, c.channel FROM dnc d CROSS JOIN channels c
    )
    SELECT p.customer_id, p.channel, l.consent_status, l.consent_at,
        d.customer_id IS NOT NULL AS do_not_contact, d.dnc_at, d.dnc_reason
    FROM pairs p
    LEFT JOIN latest l USING (customer_id, channel)
    LEFT JOIN dnc d USING (customer_id)"""


def _channel_checks_sql(policy: ContactPolicy, send_date: date) -> str:
    """Per candidate and channel: the first rule that stops it (NULL when the channel is open)."""
    default_cases = " ".join(
        f"WHEN a.customer_status = '{status}' THEN list_contains({_sql_list(chans)}, ch.channel)"
        for status, chans in policy.default_consent.items())
    # Only the send date matters: which channels are dark on it.
    dark = sorted({ch for ch, days in policy.blackout_dates.items() if send_date in days})
    blackout_expr = "TRUE" if "all" in dark else (f"ch.channel IN ({', '.join(repr(c) for c in dark)})"
                                                  if dark else "FALSE")
    field_cases = " ".join(f"WHEN '{ch}' THEN a.{f} IS NULL" for ch, f in CONTACT_FIELD.items())
    return f"""
    WITH cs AS ({consent_state_sql("consents")}),
    terms AS (
        SELECT customer_id, c.channel,
            bool_or(list_contains(permitted_channels, c.channel)) AS permitted,
            bool_or(list_contains(permitted_channels, c.channel)
                    AND (expires_at IS NULL OR expires_at >= DATE '{send_date}')) AS permitted_now
        FROM list_terms JOIN (SELECT unnest({_sql_list(CHANNEL_FIELDS)}) AS channel) c ON TRUE
        GROUP BY ALL
    )
    SELECT cc.campaign_id, cc.customer_id, cc.channel, cc.pref,
        CASE
            WHEN l.do_not_contact THEN 'excluded:do_not_contact'
            WHEN {blackout_expr} THEN 'excluded:blackout_' || ch.channel
            WHEN l.consent_status = 'withdrawn' THEN 'excluded:no_' || ch.channel || '_consent'
            WHEN l.consent_status = 'granted' THEN NULL
            WHEN CASE {default_cases} ELSE FALSE END THEN NULL
            WHEN tm.permitted_now THEN NULL
            WHEN tm.permitted THEN 'excluded:list_expired'
            WHEN tm.customer_id IS NOT NULL AND a.customer_status = 'prospect'
                THEN 'excluded:list_channel_not_permitted'
            ELSE 'excluded:no_' || ch.channel || '_consent'
        END AS consent_reason,
        CASE WHEN l.consent_status = 'granted' THEN 'consent'
             WHEN CASE {default_cases} ELSE FALSE END THEN 'default_' || a.customer_status
             WHEN tm.permitted_now THEN 'list_terms' END AS basis,
        CASE ch.channel {field_cases} END AS missing_field,
        a.household_key
    FROM cand_channels cc
    JOIN audience a USING (customer_id)
    JOIN (SELECT unnest({_sql_list(CHANNEL_FIELDS)}) AS channel) ch ON ch.channel = cc.channel
    LEFT JOIN cs l ON l.customer_id = cc.customer_id AND l.channel = cc.channel
    LEFT JOIN terms tm ON tm.customer_id = cc.customer_id AND tm.channel = cc.channel
    """


def _ledger_counts_sql(policy: ContactPolicy, send_date: date) -> str:
    windows = policy.cap_windows or [1]
    per_ch = ", ".join(f"count(*) FILTER (WHERE contact_date > DATE '{send_date}' - INTERVAL {w} DAY) AS n{w}"
                       for w in windows)
    return f"""
    SELECT customer_id, channel, {per_ch}
    FROM ledger WHERE counts_toward_caps AND contact_date <= DATE '{send_date}'
      AND customer_id IN (SELECT customer_id FROM cand_channels)
    GROUP BY ALL"""


def _waves_sql() -> str:
    return """
    SELECT customer_id, campaign_id, occurrence_key, count(*) AS waves_done, max(contact_date) AS last_wave_date
    FROM ledger WHERE occurrence_key IS NOT NULL
    GROUP BY ALL"""


def _at(d: date, t) -> datetime:
    return datetime.combine(d, t)


def plan_night(con, campaigns: list[Campaign], policy: ContactPolicy, run_date: date) -> pd.DataFrame:
    """Decisions for every candidate of every campaign active on the send date (see module docstring)."""
    send_date = run_date + timedelta(days=policy.send_day_offset)
    active = sorted([c for c in campaigns if c.is_active(send_date)], key=lambda c: (-c.priority, c.id))
    if not active:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    cand = pd.concat([con.sql(_candidates_sql(c)).df() for c in active], ignore_index=True)
    if cand.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    pref = pd.DataFrame([(c.id, ch, i) for c in active for i, ch in enumerate(c.channels)],
                        columns=["campaign_id", "channel", "pref"])
    cand_channels = cand[["campaign_id", "customer_id"]].merge(pref, on="campaign_id")
    con.register("cand_channels", cand_channels)
    try:
        checks = con.sql(_channel_checks_sql(policy, send_date)).df()
        checks = checks.astype(object).where(checks.notna(), None)  # pandas 3 strings: NaN -> None
        counts = con.sql(_ledger_counts_sql(policy, send_date)).df()
        waves = con.sql(_waves_sql()).df()
    finally:
        con.unregister("cand_channels")
    return _allocate(cand, checks, counts, waves, active, policy, run_date, send_date)


def _allocate(cand, checks, counts, waves, active, policy, run_date, send_date) -> pd.DataFrame:
    windows = policy.cap_windows
    ledger_n: dict[tuple[str, str], dict[int, int]] = {}
    for row in counts.itertuples(index=False):
        ledger_n[(row.customer_id, row.channel)] = {w: int(getattr(row, f"n{w}")) for w in windows}
    total_n: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(windows, 0))
    for (cid, _), n in ledger_n.items():
        for w in windows:
            total_n[cid][w] += n[w]
    wave_state = {(r.customer_id, r.campaign_id, r.occurrence_key): (int(r.waves_done), r.last_wave_date)
                  for r in waves.itertuples(index=False)}
    options: dict[tuple[str, str], list] = defaultdict(list)
    for r in checks.sort_values("pref").itertuples(index=False):
        options[(r.campaign_id, r.customer_id)].append(r)

    tonight_person: dict[str, list[str]] = defaultdict(list)  # person -> campaigns given tonight
    tonight_ch: dict[tuple[str, str], int] = defaultdict(int)
    tonight_total: dict[str, int] = defaultdict(int)
    households_mailed: set[str] = set()
    out = []
    cand = cand.assign(_neg=-cand.rank_score.fillna(float("-inf")))
    for c in active:
        rows = cand[cand.campaign_id == c.id].sort_values(["_neg", "customer_id"], kind="stable")
        included = 0
        for r in rows.itertuples(index=False):
            pid = r.customer_id
            base = dict(run_date=run_date, send_date=send_date, campaign_id=c.id, customer_id=pid,
                        occurrence_key=r.occurrence_key, rank_score=r.rank_score, priority=c.priority,
                        is_holdout=False, send_after=None, send_before=None)
            done, last = wave_state.get((pid, c.id, r.occurrence_key), (0, None))
            wave_no = done + 1
            base.update(wave=wave_no, wave_name=c.waves[min(done, len(c.waves) - 1)].name)
            if done >= len(c.waves):
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:waves_complete", "detail": f"all {len(c.waves)} waves sent"})
                continue
            if done and last is not None and (send_date - pd.Timestamp(last).date()).days < c.waves[done].after_days:
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:wave_not_due",
                            "detail": f"wave {wave_no} '{c.waves[done].name}' is due "
                                      f"{c.waves[done].after_days} days after {pd.Timestamp(last).date()}"})
                continue
            if len(tonight_person[pid]) >= policy.max_campaigns_per_person_per_night:
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:lower_priority",
                            "detail": "tonight's higher-priority campaign " + ", ".join(tonight_person[pid])})
                continue
            if c.max_list_size is not None and included >= c.max_list_size:
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:over_list_cap",
                            "detail": f"list is full at {c.max_list_size} better-ranked people"})
                continue
            chosen, why = None, []
            for o in options[(c.id, pid)]:
                reason = o.consent_reason or (f"excluded:no_{CONTACT_FIELD[o.channel]}" if o.missing_field else None)
                if reason is None:
                    reason = _cap_reason(policy, o.channel, ledger_n.get((pid, o.channel)), total_n.get(pid),
                                         tonight_ch[(pid, o.channel)], tonight_total[pid])
                if reason is None and o.channel == "mail":
                    hh = o.household_key if isinstance(o.household_key, str) else f"person:{pid}"
                    if hh in households_mailed:
                        reason = "excluded:household_mail"
                if reason is None:
                    chosen = o
                    break
                why.append(f"{o.channel}: {reason}")
            if chosen is None:
                first = why[0].split(": ", 1)[1] if why else "excluded:no_channel"
                out.append({**base, "channel": c.channels[0], "decision": "excluded", "reason": first,
                            "detail": "; ".join(why)})
                continue
            included += 1
            tonight_person[pid].append(c.id)
            tonight_ch[(pid, chosen.channel)] += 1
            tonight_total[pid] += 1
            if chosen.channel == "mail":
                households_mailed.add(chosen.household_key if isinstance(chosen.household_key, str)
                                      else f"person:{pid}")
            lo, hi = policy.quiet_hours[chosen.channel]
            if c.send_window:
                lo, hi = max(lo, c.send_window[0]), min(hi, c.send_window[1])
            detail = f"wave {wave_no}/{len(c.waves)} '{base['wave_name']}' by {chosen.channel} ({chosen.basis})"
            if why:
                detail += "; passed over " + "; ".join(why)
            out.append({**base, "channel": chosen.channel, "decision": "included", "reason": c.reason_code,
                        "detail": detail, "is_holdout": holdout_draw(c.id, pid) < c.holdout_share,
                        "send_after": _at(send_date, lo), "send_before": _at(send_date, hi)})
    df = pd.DataFrame(out, columns=DECISION_COLUMNS)
    return df.sort_values(["campaign_id", "customer_id"], ignore_index=True)


def _cap_reason(policy: ContactPolicy, channel: str, ch_n: dict | None, tot_n: dict | None,
                tonight_ch: int, tonight_total: int) -> str | None:
    """The first frequency cap one more contact on ``channel`` would break, counting tonight's plans."""
    for w, cap in sorted(policy.caps.get("total", {}).items()):
        if (tot_n or {}).get(w, 0) + tonight_total + 1 > cap:
            return f"excluded:cap_{w}d"
    for w, cap in sorted(policy.caps.get(channel, {}).items()):
        if (ch_n or {}).get(w, 0) + tonight_ch + 1 > cap:
            return f"excluded:cap_{w}d_{channel}"
    return None
