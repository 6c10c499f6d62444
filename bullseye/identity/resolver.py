"""One night of identity resolution: match, cluster, keep ids stable, journal, audit.

Called by the dbt Python model ``int_identity__clusters`` (and by tests and the
benchmark directly) with two relations built by dbt: the records with their
attributes, and their keys with the rule that governs each key.

Modes:
- ``retrain``: train the match model afresh (EM), then score every candidate pair;
- ``full``: score every candidate pair with the stored model;
- ``incremental``: score only pairs that involve a record that is new or whose
  match attributes changed since the last scored night; stored scores for the rest
  are reused. Clustering always runs over all edges (it takes seconds), so an
  incremental night ends with the clusters a full run with the same model gives;
- ``auto``: incremental when a model exists, otherwise retrain.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from bullseye.identity import graph, ids, matching, state

log = logging.getLogger(__name__)
CONTACT_KEYS = ("phone", "email")
MODES = ("auto", "incremental", "full", "retrain")


@dataclass(frozen=True)
class IdentityConfig:
    match_threshold: float = 0.95
    mode: str = "auto"
    max_changed_share: float = 0.05

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"identity mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not 0 < self.match_threshold < 1:
            raise ValueError(f"identity match threshold {self.match_threshold} must be between 0 and 1")


@dataclass
class NightResult:
    records: pd.DataFrame  # source, source_record_id, customer_id, match_rule, match_probability, ...
    run: dict


def match_input_sql(records: str, edges: str) -> str:
    """Records with a name, birth date or address (CRM and lists; not anonymous
    visitors) and the values the match model compares. Contact keys the edge rules
    blocked (shop phones, too many names) are left out of matching too."""
    usable = "{a}.key_type = '{t}' and {a}.rule not in ('blocked: too many records', 'shared key: too many names')"
    return f"""
    select r.source || '|' || r.source_record_id as unique_id, r.name, r.name_pinyin,
           strftime(r.birth_date, '%Y-%m-%d') as birth_date, p.key_value as phone, m.key_value as email,
           r.city, replace(r.address, ' ', '') as address, r.gender
    from {records} r
    left join {edges} p on p.source = r.source and p.source_record_id = r.source_record_id
        and {usable.format(a='p', t='phone')}
    left join {edges} m on m.source = r.source and m.source_record_id = r.source_record_id
        and {usable.format(a='m', t='email')}
    where r.name is not null or r.birth_date is not null or r.address is not null
    """


def resolve(con: duckdb.DuckDBPyConnection, records: str, edges: str, as_of: date,
            config: IdentityConfig = IdentityConfig(), overrides: pd.DataFrame | None = None) -> NightResult:
    """Resolve identities for the night ``as_of``; updates the ``identity`` schema."""
    t0 = time.perf_counter()
    state.ensure(con)
    state.rollback(con, as_of)
    con.execute(f"create or replace temp table __bz_match_input as {match_input_sql(records, edges)}")
    con.execute("""create or replace temp table __bz_match_hash as
        select unique_id, md5(concat_ws('|', name, name_pinyin, birth_date, phone, email, city, address, gender))
            as row_hash
        from __bz_match_input""")
    n_named = con.execute("select count(*) from __bz_match_input").fetchall()[0][0]
    mode, trained_on, rescored = _score(con, as_of, config, n_named)

    rec = con.execute(f"select source || '|' || source_record_id as record, source, name from {records}").df()
    key_edges = con.execute(f"""select source || '|' || source_record_id as record, key_type, key_value, node, rule
                                from {edges}""").df()
    matches = con.execute("""select unique_id_l as a, unique_id_r as b, match_probability as probability
                             from identity.match_edges where match_probability >= ?""",
                          [config.match_threshold]).df()
    must, cannot = _overrides(overrides)
    clusters = _cluster(rec, key_edges, matches, must, cannot)

    previous = state.previous_ids(con)
    cids, journal = ids.assign_ids(clusters.records, previous, state.issued_ids(con))
    out = clusters.records.assign(customer_id=clusters.records["label"].map(cids))
    changed = ids.changed_share(clusters.records, cids, previous)
    state.write_registry(con, out, as_of)
    state.append(con, "journal", journal.assign(as_of=as_of)[["as_of", *journal.columns]])
    state.append(con, "refused_edges", clusters.refused.assign(as_of=as_of)[["as_of", "a", "b", "rule", "reason"]])

    out = out.merge(rec[["record", "source"]], on="record")
    out["source_record_id"] = out["record"].str.split("|", n=1).str[1]
    out["cluster_size"] = out.groupby("customer_id")["record"].transform("size")
    run = _run_stats(out, journal, previous, changed, config)
    run.update(as_of=as_of, mode=mode, model_trained_on=trained_on, records=len(out), rescored_records=rescored,
               match_edges=len(matches), seconds=round(time.perf_counter() - t0, 2))
    state.append(con, "runs", pd.DataFrame([run])[_RUN_COLUMNS])
    cols = ["source", "source_record_id", "customer_id", "match_rule", "match_probability", "linked_via",
            "cluster_size"]
    return NightResult(records=out[cols].sort_values(["source", "source_record_id"]).reset_index(drop=True),
                       run=run)


def _score(con, as_of: date, config: IdentityConfig, n_named: int) -> tuple[str, date | None, int]:
    """Bring identity.match_edges up to date with tonight's match input."""
    stored = state.latest_model(con, as_of)
    mode = config.mode
    outdated = stored is not None and stored[1].settings.get("bullseye_model_version") != matching.MODEL_VERSION
    if outdated and mode != "retrain":
        log.warning("identity: the stored match model predates this version of the comparisons; retraining")
    if mode == "retrain" or stored is None or outdated:
        model = _train_or_none(con, n_named)
        if model is None:
            con.execute("delete from identity.match_edges")
            con.execute("delete from identity.match_inputs")
            return "keys only (too few records to train the match model)", None, 0
        state.save_model(con, model, as_of, n_named)
        trained_on, mode = as_of, "retrain"
    else:
        trained_on, model = stored
        mode = "incremental" if mode == "auto" else mode
    floor = min(config.match_threshold, 0.5)  # keep near misses too: a lower threshold needs no rescoring
    if mode == "incremental":
        con.execute("""create or replace temp table __bz_changed as
            select i.* from __bz_match_input i semi join (
                select * from __bz_match_hash except select * from identity.match_inputs) using (unique_id)""")
        con.execute("""delete from identity.match_edges where unique_id_l not in (select unique_id from
                       __bz_match_input) or unique_id_r not in (select unique_id from __bz_match_input)
                       or unique_id_l in (select unique_id from __bz_changed)
                       or unique_id_r in (select unique_id from __bz_changed)""")
        rescored = con.execute("select count(*) from __bz_changed").fetchall()[0][0]
        if rescored:
            new = matching.predict(con, model, "__bz_match_input", floor, new_table="__bz_changed")
            state.append(con, "match_edges", new)
    else:
        new = matching.predict(con, model, "__bz_match_input", floor)
        con.execute("delete from identity.match_edges")
        state.append(con, "match_edges", new)
        rescored = n_named
    con.execute("delete from identity.match_inputs")
    con.execute("insert into identity.match_inputs select unique_id, row_hash from __bz_match_hash")
    return mode, trained_on, int(rescored)


MIN_TRAINING_RECORDS = 500


def _train_or_none(con, n_named: int) -> matching.MatchModel | None:
    """Train the match model, or return None when there is too little data for EM to mean
    anything (a first small delivery): that night links on keys only, and says so."""
    from splink.internals.exceptions import EMTrainingException

    if n_named < MIN_TRAINING_RECORDS:
        log.warning("identity: %d records to match, fewer than %d: linking on keys only tonight",
                    n_named, MIN_TRAINING_RECORDS)
        return None
    try:
        return matching.train(con, "__bz_match_input")
    except EMTrainingException as exc:
        log.warning("identity: the match model could not be trained (%s): linking on keys only tonight",
                    str(exc).splitlines()[0])
        return None


def _overrides(overrides: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Must-link and cannot-link pairs; for a pair named twice, the latest entry wins."""
    empty = pd.DataFrame(columns=["a", "b"])
    if overrides is None or not len(overrides):
        return empty, empty
    o = overrides.copy()
    o["a"] = o["source_a"] + "|" + o["record_a"]
    o["b"] = o["source_b"] + "|" + o["record_b"]
    lo, hi = np.minimum(o["a"], o["b"]), np.maximum(o["a"], o["b"])
    o["a"], o["b"] = lo, hi
    if "added_at" in o:
        o = o.sort_values("added_at", kind="stable")
    o = o.drop_duplicates(["a", "b"], keep="last")
    bad = ~o["kind"].isin(["must_link", "cannot_link"])
    if bad.any():
        raise ValueError(f"identity override kind must be must_link or cannot_link, got {o.loc[bad, 'kind'].iloc[0]!r}")
    return o[o.kind == "must_link"][["a", "b"]], o[o.kind == "cannot_link"][["a", "b"]]


def _cluster(rec: pd.DataFrame, key_edges: pd.DataFrame, matches: pd.DataFrame,
             must: pd.DataFrame, cannot: pd.DataFrame) -> graph.Clusters:
    """Two passes. Pass 1 clusters named records (account keys, single-name contact
    keys, same-name family keys, matches, must-links). Then a contact key counts as a
    family or shop key only if it is carried by more than one *person* of pass 1, not
    by more than one spelling of a name: a phone typed under 张伟 and 張偉 is one
    person's. Pass 2 lets contact keys of one person tie in everything that carries
    them, including anonymous web visitors."""
    usable = key_edges[key_edges["node"].notna()]
    named = set(rec.loc[rec["name"].notna(), "record"])
    pair = pd.concat([
        matches.assign(rule="match"),
        must.assign(rule="must_link", probability=np.nan),
    ], ignore_index=True)[["a", "b", "rule", "probability"]]
    key = usable.assign(a=usable["record"], b=usable["node"], probability=np.nan)
    key["rule"] = key["key_type"]
    in_pass1 = key["a"].isin(named) | ~key["key_type"].isin(CONTACT_KEYS)  # account keys always link
    pass1 = pd.concat([key[in_pass1][["a", "b", "rule", "probability"]], pair], ignore_index=True)
    first = graph.cluster(rec["record"].to_numpy(), pass1, cannot, explain=False).records.set_index("record")["label"]

    contact = key_edges[key_edges["key_type"].isin(CONTACT_KEYS)
                        & ~key_edges["rule"].isin(["blocked: too many records", "shared key: too many names"])]
    contact = contact.assign(label=contact["record"].map(first).where(contact["record"].isin(named)))
    people = contact.groupby(["key_type", "key_value"])["label"].nunique()
    one = people[people <= 1].reset_index()[["key_type", "key_value"]]
    extra = contact.merge(one, on=["key_type", "key_value"])
    extra = pd.DataFrame({"a": extra["record"], "b": extra["key_type"] + ":" + extra["key_value"],
                          "rule": extra["key_type"], "probability": np.nan})
    return graph.cluster(rec["record"].to_numpy(), pd.concat([pass1, extra], ignore_index=True), cannot)


_RUN_COLUMNS = ["as_of", "mode", "model_trained_on", "records", "rescored_records", "match_edges", "people",
                "new_people", "merges", "splits", "changed_share", "cluster_sizes", "source_match_share",
                "blocked", "block_reason", "seconds"]
_SIZE_BINS = [(1, 1), (2, 2), (3, 5), (6, 10), (11, None)]


def _run_stats(out: pd.DataFrame, journal: pd.DataFrame, previous: pd.DataFrame, changed: float,
               config: IdentityConfig) -> dict:
    sizes = out.groupby("customer_id").size()
    dist = {}
    for lo, hi in _SIZE_BINS:
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi else f"{lo}+")
        dist[label] = int(((sizes >= lo) & ((sizes <= hi) if hi else True)).sum())
    share = out.assign(m=out["cluster_size"] > 1).groupby("source")["m"].mean().round(4).to_dict()
    prev_ids = set(previous["customer_id"])
    blocked = bool(len(previous)) and changed > config.max_changed_share
    return dict(
        people=int(len(sizes)), new_people=int(len(set(sizes.index) - prev_ids)) if len(previous) else int(len(sizes)),
        merges=int((journal["event"] == "merge").sum()), splits=int((journal["event"] == "split").sum()),
        changed_share=round(changed, 6), cluster_sizes=json.dumps(dist), source_match_share=json.dumps(share),
        blocked=blocked,
        block_reason=(f"{changed:.1%} of records changed customer_id since the previous night "
                      f"(limit {config.max_changed_share:.1%})") if blocked else None,
    )
