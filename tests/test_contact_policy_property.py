"""Property test: on generated worlds, no included row breaks consent, suppression, a cap, list terms or the law.

The oracle below re-derives each rule from the raw inputs in plain Python, independently of the
planner's SQL, and checks every row the planner includes. The worlds hold what issue 13 found
broken: numbers and emails several people share (with refusals given for the address), consents
keyed by an id a merge retired (read through the merge journal, as int_contact__consent_events
does), opt-outs from contact files (booleans after loading, whatever text they were written in;
they bind the person and the address), marketing and service campaigns under a policy that opens
some channels on a named basis, purchased-list licences narrowed by a later manifest (the planner
sees the terms in force; the wider original must never be relied on), and children. Calls fit
each salesperson's or store's daily capacity (a pool defers only when it has no room left), and
waves start again only in a new episode (stage_since).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bullseye.activation.campaigns import ADDRESS_FIELD, CHANNELS
from tests.activation_kit import RUN, campaign, person, plan, policy, world

SEND = RUN + timedelta(days=1)
FIELD = {"sms": "phone", "phone": "phone", "email": "email", "wechat": "wechat_unionid", "mail": "address"}
PHONES = ["+8613800000001", "+8613800000002", "+8613800000003", None]  # few numbers: people share them
EMAILS = ["a@x.cn", "b@x.cn", None]
BASES = ["contract", "public"]
EPISODES = [None, date(2026, 3, 1), date(2026, 5, 20)]  # stage_since: the day the current episode began
TIERS = ["MVC", "MGC", None]

day = st.integers(min_value=-40, max_value=0).map(lambda d: RUN + timedelta(days=d))
stamp = st.tuples(day, st.integers(0, 23)).map(lambda t: datetime(t[0].year, t[0].month, t[0].day, t[1]))


@st.composite
def worlds(draw):
    n = draw(st.integers(2, 10))
    people = []
    for i in range(n):
        pid = f"P{i}"
        status = draw(st.sampled_from(["customer", "lead", "prospect"]))
        people.append(person(pid, status, phone=draw(st.sampled_from(PHONES)), email=draw(st.sampled_from(EMAILS)),
                             wechat_unionid=draw(st.sampled_from([f"wx{i}", None])),
                             household_key=draw(st.sampled_from(["h1", "h2", None])),
                             age=draw(st.sampled_from([None, 9, 13, 14, 40])),
                             response_propensity=draw(st.floats(0, 1)),
                             stage_since=draw(st.sampled_from(EPISODES)), value_tier=draw(st.sampled_from(TIERS)),
                             salesperson_id=draw(st.sampled_from(["S1", "S2", None])),
                             home_store_id=draw(st.sampled_from(["ST1", None])),
                             last_response_channel=draw(st.sampled_from([None, *CHANNELS]))))
    ids = [p["customer_id"] for p in people]
    # ids a merge retired into tonight's people (the merge journal, as int_identity__id_lineage reads it)
    lineage = {f"R{k}": draw(st.sampled_from(ids)) for k in range(draw(st.integers(0, 3)))}
    keyed = ids + list(lineage)
    consents = draw(st.lists(st.tuples(st.sampled_from(keyed), st.sampled_from([*CHANNELS, "all"]),
                                       st.sampled_from(["granted", "granted", "withdrawn", "do_not_contact"]), stamp),
                             max_size=12))
    address = st.one_of(st.tuples(st.just("phone"), st.sampled_from(PHONES[:-1])),
                        st.tuples(st.just("email"), st.sampled_from(EMAILS[:-1])))
    address_consents = draw(st.lists(st.tuples(address, st.sampled_from([*CHANNELS, "all"]),
                                               st.sampled_from(["granted", "withdrawn", "do_not_contact"]), stamp),
                                     max_size=6))
    # opt-outs and complaints in contact files, read as booleans: (person or None, channel, address or None, ts)
    refusals = draw(st.lists(st.tuples(st.sampled_from([*ids, None]), st.sampled_from(["sms", "phone", "email"]),
                                       st.booleans(), stamp), max_size=4))
    # list licences: the terms first delivered, and the narrower ones in force (the planner's view)
    lists = []
    for _ in range(draw(st.integers(0, 6))):
        pid, lid = draw(st.sampled_from(ids)), draw(st.sampled_from(["L1", "L2"]))
        wide = draw(st.lists(st.sampled_from(CHANNELS), max_size=3, unique=True))
        narrow = [c for c in wide if draw(st.booleans())]
        first_exp = draw(st.sampled_from([date(2026, 12, 31), None]))
        now_exp = draw(st.sampled_from([first_exp, date(2026, 5, 1), SEND]))
        basis = draw(st.sampled_from(["consent_with_transfer", "public"]))
        lists.append((pid, lid, wide, first_exp, narrow, now_exp, basis))
    contacts = draw(st.lists(st.tuples(st.sampled_from([*ids, None]), st.sampled_from(["ext1", "ext2"]),
                                       st.sampled_from(CHANNELS), stamp, st.booleans()), max_size=10))
    # earlier waves: keyed by an episode (one of the stage_since values) or, from before episodes, by the
    # campaign id alone
    plans = []
    for _ in range(draw(st.integers(0, 8))):
        cid = draw(st.sampled_from(["c0", "c1"]))
        ep = draw(st.sampled_from([*EPISODES, "legacy"]))
        key = cid if ep == "legacy" else f"{cid}:stage_since={ep or '-'}"
        plans.append((draw(day), cid, draw(st.sampled_from(ids)), draw(st.sampled_from(CHANNELS)), key,
                      draw(st.integers(1, 2)), draw(st.booleans())))
    camps = []
    pool = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    pool = pool if "phone" in pool else ["phone", *pool][:3]  # calls in most worlds, so that capacity is tested
    for k in range(draw(st.integers(1, 3))):
        chans = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        camps.append(campaign(f"c{k}", channels=chans, priority=draw(st.integers(0, 5)),
                              purpose=draw(st.sampled_from(["marketing", "service"])),
                              holdout_share=draw(st.sampled_from([0.0, 0.3])),
                              max_list_size=draw(st.sampled_from([None, 1, 3])),
                              waves=draw(st.sampled_from([None, [{"name": "a"}, {"name": "b", "after_days": 3}]])),
                              channel_choice=draw(st.sampled_from(["best", "campaign_order"]))))
    caps = {"total": {7: draw(st.integers(1, 4)), 30: draw(st.integers(2, 6))}}
    for ch in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)):
        caps[ch] = {7: draw(st.integers(0, 2))}
    # Open channels generously: most rules only show on people who would otherwise be reached.
    opened = {purpose: {status: {ch: draw(st.sampled_from(BASES))
                                 for ch in draw(st.lists(st.sampled_from(CHANNELS), max_size=5, unique=True))}
                        for status in ("customer", "lead", "prospect")}
              for purpose in ("marketing", "service")}
    pol = policy(caps=caps, max_campaigns_per_person_per_night=draw(st.integers(1, 3)),
                 blackout_dates={draw(st.sampled_from(CHANNELS)): [SEND.isoformat()]},
                 open_without_consent=opened,
                 call_capacity={"minutes_per_day": draw(st.sampled_from([10, 15])),
                                "minutes_per_call": {"MVC": draw(st.sampled_from([5, 10])), "default": 5},
                                "salespeople": {"S2": draw(st.sampled_from([0, 10]))},
                                "default_pool_minutes": draw(st.sampled_from([0, 5]))},
                 list_licence_bases=draw(st.sampled_from([["consent_with_transfer"],
                                                          ["consent_with_transfer", "public"]])))
    return dict(people=people, lineage=lineage, consents=consents, address_consents=address_consents,
                refusals=refusals, lists=lists, contacts=contacts, plans=plans, camps=camps, pol=pol)


def _planner_inputs(w):
    """What the dbt models hand the planner: ids read through the merge journal, refusals as events."""
    by_id = {p["customer_id"]: p for p in w["people"]}
    consents = [(w["lineage"].get(c, c), ch, s, ts) for c, ch, s, ts in w["consents"]]
    address_consents = [(t, k, ch, s, ts) for (t, k), ch, s, ts in w["address_consents"]]
    for pid, ch, named, ts in w["refusals"]:
        if pid is not None:
            consents.append((pid, "all", "do_not_contact", ts))
        # the number or email the refusal came from: named in the file, else the person's own
        kind = ADDRESS_FIELD[ch]
        if named or pid is None:
            addr = PHONES[0] if kind == "phone" else EMAILS[0]
        else:
            addr = by_id[pid][kind]
        if addr is not None:
            address_consents.append((kind, addr, "all", "do_not_contact", ts))
    lists = [(pid, lid, narrow, now_exp, basis) for pid, lid, _, _, narrow, now_exp, basis in w["lists"]]
    contacts = []
    for pid, camp, ch, ts, named in w["contacts"]:
        kind = ADDRESS_FIELD.get(ch)
        addr = (by_id[pid].get(kind) if pid else None) if not named or kind is None else (
            PHONES[1] if kind == "phone" else EMAILS[1] if kind == "email" else None)
        if pid is None and addr is None:
            continue  # a contact naming neither a person nor an address is nobody's
        contacts.append((pid, camp, ch, ts, addr if kind in ("phone", "email") else None))
    return consents, address_consents, lists, contacts


def _lifted(events, i):
    """Is the do-not-contact events[i] lifted by a later grant on 'all' (events sorted by time)?"""
    return any(g[1] == "all" and g[2] == "granted" and g[3] > events[i][3] for g in events[i + 1:])


def _latest(events, ch):
    on_ch = [e for e in events if e[1] in (ch, "all") and e[2] in ("granted", "withdrawn")]
    return max(on_ch, key=lambda e: (e[3], e[2] == "withdrawn"))[2] if on_ch else None


def _violations(row, w, inputs, tonight) -> list[str]:
    consents, address_consents, lists, contacts = inputs
    people = {p["customer_id"]: p for p in w["people"]}
    pol = w["pol"]
    pid, ch = row.customer_id, row.channel
    p = people[pid]
    purpose = row.purpose
    found = []
    evs = sorted((e for e in consents if e[0] == pid), key=lambda e: e[3])
    if any(e[2] == "do_not_contact" and not _lifted(evs, i) for i, e in enumerate(evs)):
        found.append("suppressed person included")
    kind = ADDRESS_FIELD.get(ch)
    addr = (p[kind].lower() if kind == "email" else p[kind]) if kind and p.get(kind) else None
    aevs = sorted((((t, k), c, s, ts) for t, k, c, s, ts in address_consents if (t, k) == (kind, addr)),
                  key=lambda e: e[3])
    if addr and any(e[2] == "do_not_contact" and not _lifted(aevs, i) for i, e in enumerate(aevs)):
        found.append(f"{kind} {addr} has a do-not-contact, used for {pid}")
    latest = _latest(evs, ch)
    if latest == "withdrawn":
        found.append("consent withdrawn")
    if addr and _latest(aevs, ch) == "withdrawn":
        found.append(f"{kind} {addr} withdrew {ch}")
    licence = [t for t in lists if t[0] == pid and ch in t[2] and (t[3] is None or t[3] >= SEND)
               and t[4] in pol.list_licence_bases]
    basis_ok = (latest == "granted" or pol.basis_without_consent("marketing", p["customer_status"], ch)
                or licence or (purpose == "service"
                               and pol.basis_without_consent("service", p["customer_status"], ch)))
    if not basis_ok:
        found.append(f"no basis for {purpose} on {ch}")
    if row.legal_basis == "consent" and latest != "granted":
        found.append("claims consent without a recorded grant")
    if str(row.legal_basis).startswith("list_licence:"):
        wide_only = [t for t in w["lists"] if t[0] == pid and ch in t[2]]
        if not licence:
            found.append(f"relies on a licence no longer in force (first terms: {wide_only})")
    if purpose == "marketing" and p.get("age") is not None and p["age"] < 14:
        found.append("a child on a marketing list")
    if p.get(FIELD[ch]) is None:
        found.append("missing contact field")
    if SEND in pol.blackout_dates.get(ch, ()) or SEND in pol.blackout_dates.get("all", ()):
        found.append("blackout date")
    past = [(c[2], c[3].date()) for c in contacts if c[0] == pid] + \
           [(pl[3], pl[0]) for pl in w["plans"] if pl[2] == pid and not pl[6]]
    tonight_p = tonight[tonight.customer_id == pid]
    found += _cap_breaks(pol, past, tonight_p.channel.tolist(), f"person {pid}")
    if addr:
        def address_of(c_pid, c_ch, named):
            k = ADDRESS_FIELD.get(c_ch)
            if named is not None or k is None:
                return (k, named) if k else None
            v = people[c_pid].get(k) if c_pid else None
            return (k, v.lower() if k == "email" and v else v)
        past_a = [(c[2], c[3].date()) for c in contacts if address_of(c[0], c[2], c[4]) == (kind, addr)] + \
                 [(pl[3], pl[0]) for pl in w["plans"] if not pl[6] and address_of(pl[2], pl[3], None) == (kind, addr)]
        now_a = [r.channel for r in tonight.itertuples(index=False)
                 if address_of(r.customer_id, r.channel, None) == (kind, addr)]
        found += _cap_breaks(pol, past_a, now_a, f"{kind} {addr}")
        if len(now_a) > pol.max_campaigns_per_person_per_night:
            found.append(f"{kind} {addr} sent {len(now_a)} messages tonight")
    return found


def _cap_breaks(pol, past, now_channels, who) -> list[str]:
    found = []
    for key, windows in pol.caps.items():
        for w, cap in windows.items():
            since = SEND - timedelta(days=w)
            n_past = sum(1 for c, d in past if since < d <= SEND and key in ("total", c))
            n_now = len(now_channels) if key == "total" else now_channels.count(key)
            if n_past + n_now > cap:
                found.append(f"{who}: cap {key} {w}d broken ({n_past} before + {n_now} tonight > {cap})")
    return found


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_included_row_breaks_consent_suppression_caps_or_list_terms(w):
    inputs = _planner_inputs(w)
    consents, address_consents, lists, contacts = inputs
    con = world(w["people"], consents=consents, address_consents=address_consents, lists=lists, contacts=contacts,
                plans=w["plans"])
    df = plan(con, w["camps"], w["pol"])
    by_id = {p["customer_id"]: p for p in w["people"]}
    # Every candidate has exactly one decision and a reason code.
    assert df.reason.str.match(r"^(included|excluded):|^deferred:capacity$").all()
    assert ((df.decision == "deferred") == (df.reason == "deferred:capacity")).all()
    assert not df.duplicated(["campaign_id", "customer_id"]).any()
    inc = df[df.decision == "included"]
    assert inc.legal_basis.notna().all()
    for row in inc.itertuples(index=False):
        bad = _violations(row, w, inputs, inc)
        assert not bad, (row, bad)
    per_person = Counter(inc.customer_id)
    assert max(per_person.values(), default=0) <= w["pol"].max_campaigns_per_person_per_night
    mail = inc[inc.channel == "mail"]
    households = [by_id[c]["household_key"] or c for c in mail.customer_id]
    assert len(households) == len(set(households)), "two pieces of mail to one household"
    for c in w["camps"]:
        if c.max_list_size is not None:
            assert (inc.campaign_id == c.id).sum() <= c.max_list_size
    _check_capacity(df, w)
    _check_episodes(df, w)


def _pool(p, cap) -> tuple[str, int]:
    """The oracle's pool: the salesperson, else the home store, else the default pool."""
    if p["salesperson_id"]:
        return "S:" + p["salesperson_id"], cap.salespeople.get(p["salesperson_id"], cap.minutes_per_day)
    if p["home_store_id"]:
        return "H:" + p["home_store_id"], cap.stores.get(p["home_store_id"], cap.minutes_per_day)
    return "default", cap.default_pool_minutes if cap.default_pool_minutes is not None else cap.minutes_per_day


def _check_capacity(df, w):
    """No pool books more call minutes than it has; a pool defers a call only when it had no room for it."""
    cap, people = w["pol"].call_capacity, {p["customer_id"]: p for p in w["people"]}
    used, minutes, deferred = Counter(), {}, {}
    for r in df[(df.decision == "included") & (df.channel == "phone") & ~df.is_holdout.astype(bool)].itertuples():
        pool, minutes[pool] = _pool(people[r.customer_id], cap)
        used[pool] += cap.effort(people[r.customer_id]["value_tier"])
    for pool, n in used.items():
        assert n <= minutes[pool], f"{pool} booked {n} call minutes of {minutes[pool]}"
    for r in df[df.decision == "deferred"].itertuples():
        assert r.channel == "phone"
        pool, minutes[pool] = _pool(people[r.customer_id], cap)
        deferred[pool] = max(deferred.get(pool, 0), cap.effort(people[r.customer_id]["value_tier"]))
    for pool, longest in deferred.items():
        assert used[pool] + longest > minutes[pool], f"{pool} deferred calls it had room for"


def _check_episodes(df, w):
    """The waves of a person's episode are those planned under its key (or, before episodes, the campaign's own
    key on or after the episode's first day): a new stage_since starts at wave 1, the same one carries on."""
    people = {p["customer_id"]: p for p in w["people"]}
    camps = {c.id: c for c in w["camps"]}
    for r in df.itertuples():
        since = people[r.customer_id]["stage_since"]
        key = f"{r.campaign_id}:stage_since={since or '-'}"
        assert r.occurrence_key == key
        done = [pl for pl in w["plans"] if pl[1] == r.campaign_id and pl[2] == r.customer_id
                and (pl[4] == key or (pl[4] == r.campaign_id and (since is None or pl[0] >= since)))]
        if r.decision == "included":
            assert r.wave == len(done) + 1, (r, done)
            assert f"episode stage_since={since or '-'}" in r.detail
        if r.reason == "excluded:waves_complete":
            assert len(done) >= len(camps[r.campaign_id].waves), (r, done)
