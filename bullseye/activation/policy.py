"""Plan one night: every candidate of every active campaign gets a decision and one reason code.

Inputs are DuckDB relations whose names the caller passes (PlanInputs: the dbt model passes the
relations dbt gave it; tests feed hand-made ones):

- ``audience``: one row per person with the AUDIENCE_COLUMNS plus contact fields
  (phone, email, wechat_unionid, address) and ``household_key``;
- ``triggers``: dated occasions per person (int_activation__triggers);
- ``consents``: customer_id, channel (a channel or ``all``), status (granted, withdrawn,
  do_not_contact), ts, reason, address_type, address_key: consent events, opt-outs and complaints;
- ``list_terms``: customer_id, list_id, permitted_channels, expires_at: the terms of every
  purchased list the person came from;
- ``ledger``: contacts that count (bullseye.activation.ledger).

``consents`` rows without a customer_id but with ``address_type``/``address_key`` are address
events: they bind that number or email for whoever carries it. ``list_terms`` also carries the
list's ``legal_basis``.

Per candidate and channel, in the campaign's order of preference, the rules are checked in
this order: do-not-contact (the person's, then the address's), blackout date, withdrawal (the
person's, then the address's), a legal basis for the wave's purpose (marketing: a recorded
grant, a basis the policy names, or a list licence it accepts; service may also rely on the
contract), the contact field the channel needs, then frequency caps from the ledger including
what tonight's higher-priority campaigns already took, for the person and for the address.
Marketing never reaches a person under the policy's minimum age. The first channel that
passes is used; with ``channel_choice: best`` the channel the person last responded on
(``last_response_channel``) is tried first when the campaign lists it, and the row's detail says
which rule gave the channel.

Waves belong to an episode: a trigger's occasion, else the value of the campaign's ``episode_by``
audience column (default ``stage_since``, the day the person entered their lifecycle stage), so a
customer who falls dormant a second time starts wave 1 again while the first dormancy's waves stay
complete. The occurrence key is ``<campaign>:<column>=<value>``.

A phone call counts against a daily capacity in minutes (policy ``call_capacity``): the person's
salesperson, else their home store's unassigned pool, else the default pool; its effort depends
on the person's value tier. Calls are booked in the planner's order; the first one that does not
fit closes its pool for the night, and it and every later call there are ``deferred``
(``deferred:capacity``): not exported, not in the ledger, so they come back the next night. A
deferred person gets nothing else that night. Campaigns are served in priority order, each taking its best-ranked
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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

import pandas as pd

from bullseye.activation.campaigns import (
    ADDRESS_FIELD,
    AUDIENCE_COLUMNS,
    CHANNEL_FIELDS,
    CONTACT_FIELD,
    Campaign,
    CampaignError,
    ContactPolicy,
    vet_campaign_sql,
)

DECISION_COLUMNS = ["run_date", "send_date", "campaign_id", "customer_id", "occurrence_key", "wave",
                    "wave_name", "channel", "decision", "reason", "detail", "is_holdout", "rank_score",
                    "priority", "send_after", "send_before", "purpose", "legal_basis", "sms_signature",
                    "sms_opt_out_text"]


@dataclass(frozen=True)
class PlanInputs:
    """The relations the planner reads (tables or views the connection can see), named by the caller:
    the dbt model passes the relations it was given, tests their own tables."""

    audience: str
    triggers: str
    consents: str
    list_terms: str
    ledger: str
    candidates: str = "__bz_plan_candidate_channels"  # registered by plan_night itself


def holdout_draw(campaign_id: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by campaign and person: the same holdout on every night and machine."""
    h = hashlib.sha256(f"{campaign_id}|{customer_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]::VARCHAR[]"


def _episode_sql(c: Campaign) -> tuple[str, str]:
    """SQL for the occurrence key and the episode value of a candidate (alias a: audience, t: trigger).

    A trigger's occasion is its episode. Otherwise the episode is the value of the campaign's
    ``episode_by`` audience column (stage_since: the day the person entered their current lifecycle
    stage, so a second dormancy is a new episode), keyed ``<campaign>:<column>=<value>``; with
    ``lifetime`` the key is the campaign id, one episode per person.
    """
    if c.trigger:
        return "t.occurrence_key", "NULL::VARCHAR"
    if c.episode_by in (None, "lifetime"):
        return f"'{c.id}'", "NULL::VARCHAR"
    if c.episode_by not in AUDIENCE_COLUMNS:  # settings read back from JSON are not re-validated
        raise CampaignError(f"campaign '{c.id}': episode_by '{c.episode_by}' is not an audience column")
    value = f"CAST(a.{c.episode_by} AS VARCHAR)"
    return f"'{c.id}:{c.episode_by}=' || coalesce({value}, '-')", value


# Audience columns the allocation needs besides the rank: the best channel and the call's capacity pool.
_CARRIED = ("last_response_channel", "salesperson_id", "home_store_id", "value_tier")


def _candidates_sql(c: Campaign, inp: PlanInputs) -> str:
    vet_campaign_sql(c)  # the last gate before audience and rank_by are pasted into warehouse SQL
    trig = f"JOIN {inp.triggers} t ON t.customer_id = a.customer_id AND {c.trigger.condition()}" if c.trigger else ""
    occ, episode = _episode_sql(c)
    event = "t.event_date" if c.trigger else "NULL::DATE"
    # The audience and rank expressions see the audience columns and, with a trigger, t's columns.
    cols = "a.*, t.* EXCLUDE (customer_id)" if c.trigger else "a.*"
    carried = ", ".join(_CARRIED)
    return f"""
    SELECT '{c.id}' AS campaign_id, customer_id, occurrence_key, rank_score, age, episode, {carried} FROM (
        SELECT customer_id, occurrence_key, rank_score, age, episode, {carried},
            row_number() OVER (PARTITION BY customer_id ORDER BY event_date NULLS LAST, occurrence_key) AS k
        FROM (
            SELECT x.customer_id, x._occ AS occurrence_key, x._event AS event_date, x.age, x._episode AS episode,
                   {", ".join("x." + col for col in _CARRIED)},
                   CAST(({c.rank_by}) AS DOUBLE) AS rank_score
            FROM (SELECT {cols}, {occ} AS _occ, {event} AS _event, {episode} AS _episode
                  FROM {inp.audience} a {trig}) AS x
            WHERE ({c.audience})
        )
    ) WHERE k = 1"""


def consent_state_sql(events: str) -> str:
    """Per person and channel with any event: the latest consent state and do-not-contact.

    ``events`` has customer_id, channel (a channel or 'all'), status, ts, reason. The latest
    granted/withdrawn event on the channel or on 'all' wins (a tie goes to withdrawn). A
    do_not_contact event (do-not-contact requests, opt-outs, complaints) stops every channel
    until a later grant on 'all'. Rows without a customer_id are address events (address_state_sql).
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


def _address_channels_sql() -> str:
    """(channel, address_type): the channels that send to each kind of address."""
    rows = ", ".join(f"('{ch}', '{f}')" for ch, f in ADDRESS_FIELD.items())
    return f"(SELECT * FROM (VALUES {rows}) t(channel, address_type))"


def address_state_sql(events: str) -> str:
    """Per address and channel with any address event: the latest consent state and do-not-contact.

    An address event (``address_type`` phone, email or wechat_unionid and its normalized
    ``address_key``) binds the address for whoever carries it: a do-not-contact, opt-out or
    complaint closes every channel that sends to it (a number: sms and phone) until a later grant
    on 'all' for that address; a withdrawal closes its channel. The same latest-event rule as
    for people. A grant on an address only lifts the address's own earlier refusals: it is not
    anyone's consent (the consent events model gives a sole owner the person event as well).
    """
    return f"""
    WITH ev AS (SELECT address_type, address_key, channel, status, ts, reason FROM {events}
                WHERE address_key IS NOT NULL),
    ach AS {_address_channels_sql()},
    latest AS (
        SELECT e.address_type, e.address_key, a.channel, e.status AS consent_status
        FROM ev e JOIN ach a ON a.address_type = e.address_type AND (e.channel = a.channel OR e.channel = 'all')
        WHERE e.status IN ('granted', 'withdrawn')
        QUALIFY row_number() OVER (PARTITION BY e.address_type, e.address_key, a.channel
                                   ORDER BY e.ts DESC, e.status = 'granted') = 1
    ),
    dnc AS (
        SELECT d.address_type, d.address_key, max(d.ts) AS dnc_at,
            first(d.reason ORDER BY d.ts DESC, d.reason) AS dnc_reason
        FROM ev d
        WHERE d.status = 'do_not_contact'
          AND NOT EXISTS (SELECT 1 FROM ev g WHERE g.address_type = d.address_type AND g.address_key = d.address_key
                          AND g.channel = 'all' AND g.status = 'granted' AND g.ts > d.ts)
        GROUP BY 1, 2
    ),
    pairs AS (
        SELECT address_type, address_key, channel FROM latest
        UNION
        SELECT d.address_type, d.address_key, a.channel FROM dnc d JOIN ach a USING (address_type)
    )
    SELECT p.address_type, p.address_key, p.channel, l.consent_status AS address_consent_status,
        d.address_key IS NOT NULL AS address_do_not_contact, d.dnc_at AS address_dnc_at,
        d.dnc_reason AS address_dnc_reason
    FROM pairs p
    LEFT JOIN latest l USING (address_type, address_key, channel)
    LEFT JOIN dnc d USING (address_type, address_key)"""


def _basis_case(policy: ContactPolicy, purpose: str) -> str:
    """SQL CASE: the non-consent basis the policy names for (a.customer_status, ch.channel), else NULL."""
    whens = [f"WHEN a.customer_status = '{status}' AND ch.channel = '{chan}' THEN '{basis}'"
             for status, chans in sorted(policy.open_without_consent.get(purpose, {}).items())
             for chan, basis in sorted(chans.items())]
    return f"CASE {' '.join(whens)} END" if whens else "NULL::VARCHAR"


def _address_expr() -> str:
    """The candidate's address for the channel, as the address events key it (E.164 phone, lower-case email)."""
    return ("CASE ch.channel WHEN 'sms' THEN a.phone WHEN 'phone' THEN a.phone "
            "WHEN 'email' THEN lower(trim(a.email)) WHEN 'wechat' THEN a.wechat_unionid END")


def contact_state_sql(policy: ContactPolicy, pairs: str, send_date: date, audience: str = "audience",
                      consents: str = "consents", list_terms: str = "list_terms") -> str:
    """Per (customer_id, channel) in ``pairs``: what stops a contact, and the legal basis for each purpose.

    Reads the relations ``audience`` (customer_status and contact fields), ``consents`` (person
    and address events) and ``list_terms`` (customer_id, list_id, permitted_channels, expires_at,
    legal_basis), by the names given. Columns:

    - ``dnc_code``: excluded:do_not_contact (the person) or excluded:<field>_do_not_contact (the
      address this channel sends to has a do-not-contact, opt-out or complaint, whoever gave it);
    - ``withdrawn_code``: excluded:no_<channel>_consent (the person withdrew) or
      excluded:<field>_no_<channel>_consent (a withdrawal given for the address);
    - ``marketing_basis`` / ``service_basis``: consent (a recorded grant), a basis the policy names
      under open_without_consent, or list_licence:<basis> (a purchased list's licence permits the
      channel until the send date and its legal_basis is one the policy accepts); NULL when none,
      with the reason in ``marketing_reason`` / ``service_reason``. Service may also rely on any
      basis that allows marketing.
    """
    field_of = " ".join(f"WHEN '{ch}' THEN '{f}'" for ch, f in ADDRESS_FIELD.items())
    accepted = _sql_list(policy.list_licence_bases)
    return f"""
    WITH cs AS ({consent_state_sql(consents)}),
    ads AS ({address_state_sql(consents)}),
    terms AS (
        SELECT customer_id, c.channel,
            bool_or(list_contains(permitted_channels, c.channel)) AS permitted,
            bool_or(list_contains(permitted_channels, c.channel)
                    AND (expires_at IS NULL OR expires_at >= DATE '{send_date}')) AS permitted_now,
            min(lower(trim(legal_basis))) FILTER (
                WHERE list_contains(permitted_channels, c.channel)
                  AND (expires_at IS NULL OR expires_at >= DATE '{send_date}')
                  AND list_contains({accepted}, lower(trim(legal_basis)))) AS licence_basis
        FROM {list_terms} JOIN (SELECT unnest({_sql_list(CHANNEL_FIELDS)}) AS channel) c ON TRUE
        GROUP BY ALL
    ),
    base AS (
        SELECT pr.customer_id, ch.channel, a.customer_status,
            CASE ch.channel {field_of} END AS address_type, {_address_expr()} AS address_key,
            coalesce(l.do_not_contact, false) AS do_not_contact, l.dnc_at, l.dnc_reason,
            l.consent_status, l.consent_at,
            coalesce(ad.address_do_not_contact, false) AS address_do_not_contact, ad.address_dnc_reason,
            ad.address_consent_status,
            CASE WHEN l.consent_status = 'granted' THEN 'consent'
                 WHEN {_basis_case(policy, "marketing")} IS NOT NULL THEN {_basis_case(policy, "marketing")}
                 WHEN tm.licence_basis IS NOT NULL THEN 'list_licence:' || tm.licence_basis END AS marketing_basis,
            {_basis_case(policy, "service")} AS service_policy_basis,
            CASE WHEN tm.permitted_now THEN 'excluded:list_basis_not_accepted'
                 WHEN tm.permitted THEN 'excluded:list_expired'
                 WHEN tm.customer_id IS NOT NULL AND a.customer_status = 'prospect'
                     THEN 'excluded:list_channel_not_permitted'
                 ELSE 'excluded:no_' || ch.channel || '_consent' END AS no_basis_reason
        FROM (SELECT DISTINCT customer_id, channel FROM {pairs}) pr
        JOIN {audience} a USING (customer_id)
        JOIN (SELECT unnest({_sql_list(CHANNEL_FIELDS)}) AS channel) ch ON ch.channel = pr.channel
        LEFT JOIN cs l ON l.customer_id = pr.customer_id AND l.channel = pr.channel
        LEFT JOIN ads ad ON ad.channel = pr.channel AND ad.address_type = CASE ch.channel {field_of} END
            AND ad.address_key = {_address_expr()}
        LEFT JOIN terms tm ON tm.customer_id = pr.customer_id AND tm.channel = pr.channel
    )
    SELECT customer_id, channel, customer_status, address_type, address_key,
        do_not_contact, dnc_at, dnc_reason, consent_status, consent_at,
        address_do_not_contact, address_dnc_reason, address_consent_status,
        CASE WHEN do_not_contact THEN 'excluded:do_not_contact'
             WHEN address_do_not_contact THEN 'excluded:' || address_type || '_do_not_contact' END AS dnc_code,
        CASE WHEN consent_status = 'withdrawn' THEN 'excluded:no_' || channel || '_consent'
             WHEN address_consent_status = 'withdrawn'
                 THEN 'excluded:' || address_type || '_no_' || channel || '_consent' END AS withdrawn_code,
        marketing_basis,
        CASE WHEN marketing_basis IS NULL THEN no_basis_reason END AS marketing_reason,
        CASE WHEN consent_status = 'granted' THEN 'consent'
             ELSE coalesce(service_policy_basis, marketing_basis) END AS service_basis,
        CASE WHEN coalesce(service_policy_basis, marketing_basis) IS NULL THEN no_basis_reason END AS service_reason
    FROM base"""


def _channel_checks_sql(policy: ContactPolicy, send_date: date, inp: PlanInputs) -> str:
    """Per candidate and channel: the contact state (contact_state_sql), blackout and the missing field."""
    # Only the send date matters: which channels are dark on it.
    dark = sorted({ch for ch, days in policy.blackout_dates.items() if send_date in days})
    blackout_expr = "TRUE" if "all" in dark else (f"cc.channel IN ({', '.join(repr(c) for c in dark)})"
                                                  if dark else "FALSE")
    field_cases = " ".join(f"WHEN '{ch}' THEN a.{f} IS NULL" for ch, f in CONTACT_FIELD.items())
    return f"""
    WITH st AS ({contact_state_sql(policy, inp.candidates, send_date, inp.audience, inp.consents, inp.list_terms)})
    SELECT cc.campaign_id, cc.customer_id, cc.channel, cc.pref,
        st.dnc_code, CASE WHEN {blackout_expr} THEN 'excluded:blackout_' || cc.channel END AS blackout_code,
        st.withdrawn_code, st.marketing_basis, st.marketing_reason, st.service_basis, st.service_reason,
        CASE WHEN st.address_key IS NOT NULL THEN st.address_type || ':' || st.address_key END AS address_id,
        CASE cc.channel {field_cases} END AS missing_field,
        a.household_key
    FROM {inp.candidates} cc
    JOIN {inp.audience} a USING (customer_id)
    JOIN st ON st.customer_id = cc.customer_id AND st.channel = cc.channel
    """


def _ledger_counts_sql(policy: ContactPolicy, send_date: date, inp: PlanInputs) -> str:
    windows = policy.cap_windows or [1]
    per_ch = ", ".join(f"count(*) FILTER (WHERE contact_date > DATE '{send_date}' - INTERVAL {w} DAY) AS n{w}"
                       for w in windows)
    return f"""
    SELECT customer_id, channel, {per_ch}
    FROM {inp.ledger} WHERE counts_toward_caps AND contact_date <= DATE '{send_date}'
      AND customer_id IN (SELECT customer_id FROM {inp.candidates})
    GROUP BY ALL"""


def _address_counts_sql(policy: ContactPolicy, send_date: date, inp: PlanInputs) -> str:
    """Contacts per address and channel in each cap window.

    A ledger row counts for the address it was sent to when the contact file names it, else for
    the address the person carries tonight on that channel (an earlier list row names no number).
    """
    windows = policy.cap_windows or [1]
    per_ch = ", ".join(f"count(*) FILTER (WHERE contact_date > DATE '{send_date}' - INTERVAL {w} DAY) AS n{w}"
                       for w in windows)
    kind = " ".join(f"WHEN '{ch}' THEN '{f}'" for ch, f in ADDRESS_FIELD.items())
    return f"""
    WITH l AS (
        SELECT lg.channel, lg.contact_date, CASE lg.channel {kind} END AS address_type,
            coalesce(lg.address_key, CASE lg.channel WHEN 'sms' THEN a.phone WHEN 'phone' THEN a.phone
                WHEN 'email' THEN lower(trim(a.email)) WHEN 'wechat' THEN a.wechat_unionid END) AS address_key
        FROM {inp.ledger} lg LEFT JOIN {inp.audience} a USING (customer_id)
        WHERE lg.counts_toward_caps AND lg.contact_date <= DATE '{send_date}'
    )
    SELECT address_type || ':' || address_key AS address_id, channel, {per_ch}
    FROM l WHERE address_type IS NOT NULL AND address_key IS NOT NULL
    GROUP BY ALL"""


def _waves_sql(inp: PlanInputs) -> str:
    return f"""
    SELECT customer_id, campaign_id, occurrence_key, count(*) AS waves_done, max(contact_date) AS last_wave_date
    FROM {inp.ledger} WHERE occurrence_key IS NOT NULL
    GROUP BY ALL"""


def _legacy_waves_sql(inp: PlanInputs) -> str:
    """Waves planned before episodes: a campaign without a trigger keyed them by its own id."""
    return f"""
    SELECT customer_id, campaign_id, contact_date FROM {inp.ledger}
    WHERE occurrence_key = campaign_id AND customer_id IS NOT NULL"""


def _at(d: date, t) -> datetime:
    return datetime.combine(d, t)


def plan_night(con, campaigns: list[Campaign], policy: ContactPolicy, run_date: date,
               inputs: PlanInputs) -> pd.DataFrame:
    """Decisions for every candidate of every campaign active on the send date (see module docstring)."""
    send_date = run_date + timedelta(days=policy.send_day_offset)
    active = sorted([c for c in campaigns if c.is_active(send_date)], key=lambda c: (-c.priority, c.id))
    if not active:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    cand = pd.concat([con.sql(_candidates_sql(c, inputs)).df() for c in active], ignore_index=True)
    if cand.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    pref = pd.DataFrame([(c.id, ch, i) for c in active for i, ch in enumerate(c.channels)],
                        columns=["campaign_id", "channel", "pref"])
    cand_channels = cand[["campaign_id", "customer_id"]].merge(pref, on="campaign_id")
    con.register(inputs.candidates, cand_channels)
    try:
        checks = con.sql(_channel_checks_sql(policy, send_date, inputs)).df()
        checks = checks.astype(object).where(checks.notna(), None)  # pandas 3 strings: NaN -> None
        counts = con.sql(_ledger_counts_sql(policy, send_date, inputs)).df()
        addr_counts = con.sql(_address_counts_sql(policy, send_date, inputs)).df()
        waves = con.sql(_waves_sql(inputs)).df()
        legacy = con.sql(_legacy_waves_sql(inputs)).df()
    finally:
        con.unregister(inputs.candidates)
    for col in ("episode", *_CARRIED):  # pandas 3 strings: NaN -> None
        cand[col] = cand[col].astype(object).where(cand[col].notna(), None)
    return _allocate(cand, checks, _Pressure(policy, counts, addr_counts), _WaveHistory(waves, legacy), active,
                     policy, run_date, send_date)


class _Pressure:
    """Contacts so far per person and per address (ledger plus tonight's picks), and the caps they meet.

    Caps, and the most messages a night, hold for each person and for each address: two people
    who share a number are one number to the person who answers it.
    """

    def __init__(self, policy: ContactPolicy, counts: pd.DataFrame, addr_counts: pd.DataFrame) -> None:
        self.policy = policy
        windows = policy.cap_windows
        self.ch_n: dict[tuple[str, str], dict[int, int]] = {}
        self.total_n: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(windows, 0))
        for frame in (counts.rename(columns={"customer_id": "key"}), addr_counts.rename(columns={"address_id": "key"})):
            for row in frame.itertuples(index=False):
                n = {w: int(getattr(row, f"n{w}")) for w in windows}
                self.ch_n[(row.key, row.channel)] = n
                for w in windows:
                    self.total_n[row.key][w] += n[w]
        self.tonight_ch: dict[tuple[str, str], int] = defaultdict(int)
        self.tonight_total: dict[str, int] = defaultdict(int)

    def reason(self, pid: str, address_id: str | None, channel: str) -> str | None:
        """The first cap one more contact on ``channel`` would break, for the person, then the address."""
        why = _cap_reason(self.policy, channel, self.ch_n.get((pid, channel)), self.total_n.get(pid),
                          self.tonight_ch[(pid, channel)], self.tonight_total[pid])
        if why or address_id is None:
            return why
        field = address_id.split(":", 1)[0]
        if self.tonight_total[address_id] >= self.policy.max_campaigns_per_person_per_night:
            return f"excluded:{field}_taken_tonight"
        why = _cap_reason(self.policy, channel, self.ch_n.get((address_id, channel)), self.total_n.get(address_id),
                          self.tonight_ch[(address_id, channel)], self.tonight_total[address_id])
        return why.replace("excluded:", f"excluded:{field}_", 1) if why else None

    def take(self, pid: str, address_id: str | None, channel: str) -> None:
        for key in (pid, address_id):
            if key is not None:
                self.tonight_ch[(key, channel)] += 1
                self.tonight_total[key] += 1


def _age_reason(policy: ContactPolicy, age) -> str | None:
    """Marketing never reaches a child under the policy's minimum age (14 at least), nor an unknown age if told."""
    if age is None or pd.isna(age):
        return "excluded:unknown_age" if policy.marketing_unknown_age == "exclude" else None
    return "excluded:minor" if int(age) < policy.marketing_min_age else None


def _channel_reason(o, purpose: str) -> str | None:
    """The first rule that stops this channel for this purpose, before caps (None: open)."""
    basis_reason = o.marketing_reason if purpose == "marketing" else o.service_reason
    return (o.dnc_code or o.blackout_code or o.withdrawn_code or basis_reason
            or (f"excluded:no_{CONTACT_FIELD[o.channel]}" if o.missing_field else None))


class _WaveHistory:
    """Waves sent so far per person, campaign and episode (occurrence key), from the ledger.

    Waves planned before episodes were keyed by the campaign id alone. They count toward the current
    episode when they were sent on or after its first day (an episode named by a date column such as
    stage_since); with an episode that is not a date they all count, so an upgrade never sends a
    first wave again to someone in the middle of their waves.
    """

    def __init__(self, waves: pd.DataFrame, legacy: pd.DataFrame) -> None:
        self.state = {(r.customer_id, r.campaign_id, r.occurrence_key): (int(r.waves_done), r.last_wave_date)
                      for r in waves.itertuples(index=False)}
        self.legacy: dict[tuple[str, str], list[date]] = defaultdict(list)
        for r in legacy.itertuples(index=False):
            self.legacy[(r.customer_id, r.campaign_id)].append(pd.Timestamp(r.contact_date).date())

    def done(self, c: Campaign, pid: str, occurrence_key: str, episode: str | None) -> tuple[int, object]:
        """(waves sent in this episode, the date of the last one)."""
        if (pid, c.id, occurrence_key) in self.state or c.trigger or c.episode_by in (None, "lifetime"):
            return self.state.get((pid, c.id, occurrence_key), (0, None))
        since = _as_date(episode) if AUDIENCE_COLUMNS.get(c.episode_by) in ("DATE", "TIMESTAMP") else None
        sent = [d for d in self.legacy.get((pid, c.id), []) if since is None or d >= since]
        return (len(sent), max(sent)) if sent else (0, None)


def _as_date(value: str | None) -> date | None:
    return pd.Timestamp(value).date() if value else None


class _Capacity:
    """Phone minutes left tonight per pool (a salesperson, a store's unassigned customers, the default pool).

    Calls are booked in the planner's order (campaign priority, then rank). The first call that does
    not fit closes its pool for the night: every later call to it waits too, so what waits is always the
    lowest-priority end of the pool's calls.
    """

    def __init__(self, policy: ContactPolicy) -> None:
        self.cap = policy.call_capacity
        self.used: dict[str, int] = defaultdict(int)
        self.closed: set[str] = set()

    def book(self, r) -> str | None:
        """Book the call of candidate ``r``; None when it fits, else the deferral's detail."""
        pool, minutes = self.cap.pool(r.salesperson_id, r.home_store_id)
        effort = self.cap.effort(r.value_tier)
        if pool in self.closed or self.used[pool] + effort > minutes:
            self.closed.add(pool)
            return (f"phone call ({effort} min, tier {r.value_tier or 'none'}) waits for the next night: {pool} "
                    f"has {minutes} call minutes a day, {self.used[pool]} booked tonight by higher-priority calls")
        self.used[pool] += effort
        return None


def _channel_order(c: Campaign, r, opts: list) -> tuple[list, str | None]:
    """The channels to try, and the best channel moved first (None: the campaign's order).

    The best channel is the one the person last responded on (last_response_channel), when the
    campaign lists it and chooses channels that way (channel_choice: best).
    """
    best = r.last_response_channel
    if c.channel_choice != "best" or not best or best not in c.channels:
        return opts, None
    return sorted(opts, key=lambda o: o.channel != best), best


def _allocate(cand, checks, pressure: _Pressure, history: _WaveHistory, active, policy, run_date,
              send_date) -> pd.DataFrame:
    options: dict[tuple[str, str], list] = defaultdict(list)
    for r in checks.sort_values("pref").itertuples(index=False):
        options[(r.campaign_id, r.customer_id)].append(r)

    tonight_person: dict[str, list[str]] = defaultdict(list)  # person -> campaigns given (or held for) tonight
    households_mailed: set[str] = set()
    capacity = _Capacity(policy)
    out = []
    cand = cand.assign(_neg=-cand.rank_score.fillna(float("-inf")))
    for c in active:
        rows = cand[cand.campaign_id == c.id].sort_values(["_neg", "customer_id"], kind="stable")
        included = 0
        for r in rows.itertuples(index=False):
            pid = r.customer_id
            base = dict(run_date=run_date, send_date=send_date, campaign_id=c.id, customer_id=pid,
                        occurrence_key=r.occurrence_key, rank_score=r.rank_score, priority=c.priority,
                        is_holdout=False, send_after=None, send_before=None, legal_basis=None,
                        sms_signature=None, sms_opt_out_text=None)
            done, last = history.done(c, pid, r.occurrence_key, r.episode)
            wave_no = done + 1
            purpose = c.wave_purpose(done)
            episode = "" if c.trigger or c.episode_by in (None, "lifetime") else \
                f" in episode {c.episode_by}={r.episode or '-'}"
            base.update(wave=wave_no, wave_name=c.waves[min(done, len(c.waves) - 1)].name, purpose=purpose)
            if done >= len(c.waves):
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:waves_complete", "detail": f"all {len(c.waves)} waves sent{episode}"})
                continue
            if done and last is not None and (send_date - pd.Timestamp(last).date()).days < c.waves[done].after_days:
                out.append({**base, "channel": c.channels[0], "decision": "excluded",
                            "reason": "excluded:wave_not_due",
                            "detail": f"wave {wave_no} '{c.waves[done].name}' is due "
                                      f"{c.waves[done].after_days} days after {pd.Timestamp(last).date()}{episode}"})
                continue
            age_reason = _age_reason(policy, r.age) if purpose == "marketing" else None
            if age_reason:
                out.append({**base, "channel": c.channels[0], "decision": "excluded", "reason": age_reason,
                            "detail": f"marketing only from age {policy.marketing_min_age} (PIPL Art. 28/31); "
                                      f"age {'unknown' if pd.isna(r.age) else int(r.age)}"})
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
            stop = partial(_stop, purpose=purpose, pid=pid, pressure=pressure, households_mailed=households_mailed)
            ordered, best = _channel_order(c, r, options[(c.id, pid)])
            chosen, why = None, []
            for o in ordered:
                reason = stop(o)
                if reason is None:
                    chosen = o
                    break
                why.append(f"{o.channel}: {reason}")
            if chosen is None:
                first = why[0].split(": ", 1)[1] if why else "excluded:no_channel"
                out.append({**base, "channel": c.channels[0], "decision": "excluded", "reason": first,
                            "detail": "; ".join(why)})
                continue
            rule = _channel_rule(best, chosen, options[(c.id, pid)], stop)
            is_holdout = holdout_draw(c.id, pid) < c.holdout_share
            late = capacity.book(r) if chosen.channel == "phone" and not is_holdout else None
            if late:  # the call waits: the person is held for this campaign, nothing else is sent tonight
                tonight_person[pid].append(f"{c.id} (deferred)")
                out.append({**base, "channel": "phone", "decision": "deferred", "reason": "deferred:capacity",
                            "detail": f"wave {wave_no}/{len(c.waves)}{episode}: {late}"})
                continue
            included += 1
            tonight_person[pid].append(c.id)
            pressure.take(pid, chosen.address_id, chosen.channel)
            if chosen.channel == "mail":
                households_mailed.add(chosen.household_key if isinstance(chosen.household_key, str)
                                      else f"person:{pid}")
            lo, hi = policy.quiet_hours[chosen.channel]
            if c.send_window:
                lo, hi = max(lo, c.send_window[0]), min(hi, c.send_window[1])
            basis = chosen.marketing_basis if purpose == "marketing" else chosen.service_basis
            detail = (f"wave {wave_no}/{len(c.waves)} '{base['wave_name']}'{episode} ({purpose}) by "
                      f"{chosen.channel} ({basis}); channel: {rule}")
            if why:
                detail += "; passed over " + "; ".join(why)
            sms = chosen.channel == "sms"
            out.append({**base, "channel": chosen.channel, "decision": "included", "reason": c.reason_code,
                        "detail": detail, "is_holdout": is_holdout,
                        "send_after": _at(send_date, lo), "send_before": _at(send_date, hi), "legal_basis": basis,
                        "sms_signature": policy.sms_signature if sms else None,
                        "sms_opt_out_text": policy.sms_opt_out_text if sms else None})
    df = pd.DataFrame(out, columns=DECISION_COLUMNS)
    return df.sort_values(["campaign_id", "customer_id"], ignore_index=True)


def _stop(o, purpose: str, pid: str, pressure: _Pressure, households_mailed: set[str]) -> str | None:
    """The rule that stops channel option ``o`` for this candidate tonight (None: open)."""
    reason = _channel_reason(o, purpose) or pressure.reason(pid, o.address_id, o.channel)
    if reason is None and o.channel == "mail":
        hh = o.household_key if isinstance(o.household_key, str) else f"person:{pid}"
        if hh in households_mailed:
            reason = "excluded:household_mail"
    return reason


def _channel_rule(best: str | None, chosen, in_order: list, stop) -> str:
    """The channel rule the row used, for its detail: the person's response channel or the campaign's order."""
    if best is None:
        return "campaign order"
    if chosen.channel != best:
        return f"campaign order (responded on {best}, which is closed tonight)"
    by_order = next((o.channel for o in in_order if stop(o) is None), None)
    if by_order == best:
        return f"responded on {best} (also first open in campaign order)"
    return f"responded on {best} (campaign order would give {by_order})"


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
