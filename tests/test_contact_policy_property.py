"""Property test: on generated worlds, no included row ever breaks consent, suppression, a cap or list terms.

The oracle below re-derives each rule from the raw inputs in plain Python, independently of the
planner's SQL, and checks every row the planner includes.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bullseye.activation.campaigns import CHANNELS
from tests.activation_kit import RUN, campaign, person, plan, policy, world

SEND = RUN + timedelta(days=1)
FIELD = {"sms": "phone", "phone": "phone", "email": "email", "wechat": "wechat_unionid", "mail": "address"}

day = st.integers(min_value=-40, max_value=0).map(lambda d: RUN + timedelta(days=d))
stamp = st.tuples(day, st.integers(0, 23)).map(lambda t: datetime(t[0].year, t[0].month, t[0].day, t[1]))


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 10))
    people = []
    for i in range(n):
        pid = f"P{i}"
        status = draw(st.sampled_from(["customer", "lead", "prospect"]))
        people.append(person(pid, status, phone=draw(st.sampled_from([f"+8613800000{i:03d}", None])),
                             email=draw(st.sampled_from([f"p{i}@x.cn", None])),
                             wechat_unionid=draw(st.sampled_from([f"wx{i}", None])),
                             household_key=draw(st.sampled_from(["h1", "h2", None])),
                             response_propensity=draw(st.floats(0, 1))))
    ids = [p["customer_id"] for p in people]
    consents = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from([*CHANNELS, "all"]),
                                       st.sampled_from(["granted", "withdrawn", "do_not_contact"]), stamp),
                             max_size=12))
    lists = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(["L1", "L2"]),
                                    st.lists(st.sampled_from(CHANNELS), max_size=3, unique=True),
                                    st.sampled_from([date(2026, 5, 1), SEND, date(2026, 12, 31), None])),
                          max_size=6))
    # Other tools' contacts (campaign ids bullseye never plans) and bullseye's earlier plans.
    contacts = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(["ext1", "ext2"]),
                                       st.sampled_from(CHANNELS), stamp), max_size=10))
    plans = draw(st.lists(st.tuples(day, st.sampled_from(["c0", "c1"]), st.sampled_from(ids),
                                    st.sampled_from(CHANNELS), st.just("x"), st.just(1), st.booleans()),
                          max_size=8))
    camps = []
    # Campaigns draw from a small pool of channels, so that two campaigns often compete for one
    # person on one channel and tonight's earlier picks matter to its cap.
    pool = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    for k in range(draw(st.integers(1, 3))):
        chans = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        camps.append(campaign(f"c{k}", channels=chans, priority=draw(st.integers(0, 5)),
                              holdout_share=draw(st.sampled_from([0.0, 0.3])),
                              max_list_size=draw(st.sampled_from([None, 1, 3]))))
    caps = {"total": {7: draw(st.integers(1, 4)), 30: draw(st.integers(2, 6))}}
    for ch in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)):
        caps[ch] = {7: draw(st.integers(0, 2))}
    pol = policy(caps=caps, max_campaigns_per_person_per_night=draw(st.integers(1, 3)),
                 blackout_dates={draw(st.sampled_from(CHANNELS)): [SEND.isoformat()]})
    return people, consents, lists, contacts, plans, camps, pol


def _violations(row, people, consents, lists, contacts, plans, pol, tonight) -> list[str]:
    pid, ch = row.customer_id, row.channel
    p = people[pid]
    found = []
    evs = sorted((e for e in consents if e[0] == pid), key=lambda e: e[3])
    for i, e in enumerate(evs):
        if e[2] == "do_not_contact" and not any(g[1] == "all" and g[2] == "granted" and g[3] > e[3]
                                                for g in evs[i + 1:]):
            found.append("suppressed person included")
    on_ch = [e for e in evs if e[1] in (ch, "all") and e[2] in ("granted", "withdrawn")]
    latest = max(on_ch, key=lambda e: (e[3], e[2] == "withdrawn"))[2] if on_ch else None
    if latest == "withdrawn":
        found.append("consent withdrawn")
    if latest is None and ch not in pol.default_consent[p["customer_status"]]:
        ok = [t for t in lists if t[0] == pid and ch in t[2] and (t[3] is None or t[3] >= SEND)]
        if not ok:
            found.append("no consent and no list terms allowing the channel")
    if p.get(FIELD[ch]) is None:
        found.append("missing contact field")
    if SEND in pol.blackout_dates.get(ch, ()) or SEND in pol.blackout_dates.get("all", ()):
        found.append("blackout date")
    past = [(c[2], c[3].date()) for c in contacts if c[0] == pid] + \
           [(pl[3], pl[0]) for pl in plans if pl[2] == pid and not pl[6]]
    tonight_p = tonight[tonight.customer_id == pid]
    for key, windows in pol.caps.items():
        for w, cap in windows.items():
            since = SEND - timedelta(days=w)
            n_past = sum(1 for c, d in past if d > since and d <= SEND and key in ("total", c))
            n_now = len(tonight_p) if key == "total" else int((tonight_p.channel == key).sum())
            if n_past + n_now > cap:
                found.append(f"cap {key} {w}d broken ({n_past} before + {n_now} tonight > {cap})")
    return found


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_included_row_breaks_consent_suppression_caps_or_list_terms(w):
    people, consents, lists, contacts, plans, camps, pol = w
    # plan rows: (send_date, campaign, person, channel, occurrence, wave, is_holdout)
    con = world(people, consents=consents, lists=lists, contacts=contacts, plans=plans)
    df = plan(con, camps, pol)
    by_id = {p["customer_id"]: p for p in people}
    # Every candidate has exactly one decision and a reason code.
    assert df.reason.str.match(r"^(included|excluded):").all()
    assert not df.duplicated(["campaign_id", "customer_id"]).any()
    inc = df[df.decision == "included"]
    for row in inc.itertuples(index=False):
        bad = _violations(row, by_id, consents, lists, contacts, plans, pol, inc)
        assert not bad, (row, bad)
    per_person = Counter(inc.customer_id)
    assert max(per_person.values(), default=0) <= pol.max_campaigns_per_person_per_night
    mail = inc[inc.channel == "mail"]
    households = [by_id[c]["household_key"] or c for c in mail.customer_id]
    assert len(households) == len(set(households)), "two pieces of mail to one household"
    for c in camps:
        if c.max_list_size is not None:
            assert (inc.campaign_id == c.id).sum() <= c.max_list_size
