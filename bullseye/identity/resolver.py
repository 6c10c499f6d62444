"""One night of identity resolution: match, cluster, keep ids stable, journal, audit.

Called by the pipeline's identity step (bullseye.identity.step; and by tests and the
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from bullseye.config import setting
from bullseye.identity import graph, ids, matching, state
from bullseye.night import failpoint

log = logging.getLogger(__name__)
CONTACT_KEYS = ("phone", "email")
MODES = ("auto", "incremental", "full", "retrain")

# How candidate pairs are scored: (con, model, match input table, threshold, new_table) -> the frame of
# matching.predict (unique_id_l, unique_id_r, match_weight, match_probability, guard). DuckDB's by default;
# the Spark build passes Splink's Spark backend (bullseye.identity.spark_match.SparkScorer).
Scorer = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class IdentityConfig:
    """Identity settings of a night. Defaults are the project's (dbt_project.yml vars, via bullseye.config)."""

    match_threshold: float = field(default_factory=lambda: float(setting("identity_match_threshold")))
    mode: str = "auto"
    max_changed_share: float = field(default_factory=lambda: float(setting("identity_max_changed_share")))

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
    visitors) and the values the match model compares (see matching.features_sql).
    Contact keys the edge rules blocked (shop phones, too many names) are left out of
    matching too; account identifiers in clear (member card, web login) and a list's
    own record id go in, so that a typo in one is weighed, not fatal."""
    usable = "e.rule not in ('blocked: too many records', 'shared key: too many names')"
    base = f"""
    select r.source || '|' || r.source_record_id as unique_id, r.name, r.name_pinyin,
           strftime(r.birth_date, '%Y-%m-%d') as birth_date, k.phone, k.email, r.city, r.address, r.postcode,
           r.gender, k.member_card, k.web_login,
           case when r.source = 'lists' then substr(r.source_record_id, strpos(r.source_record_id, ':') + 1)
           end as list_ref
    from {records} r
    left join (
        select source, source_record_id,
               min(key_value) filter (where key_type = 'phone') as phone,
               min(key_value) filter (where key_type = 'email') as email,
               min(key_value) filter (where key_type = 'member_card') as member_card,
               min(key_value) filter (where key_type = 'web_login') as web_login
        from {edges} e where {usable} and key_type in ('phone', 'email', 'member_card', 'web_login')
        group by source, source_record_id
    ) k using (source, source_record_id)
    where r.name is not null or r.birth_date is not null or r.address is not null"""
    return matching.features_sql(f"({base})")


def resolve(con: duckdb.DuckDBPyConnection, records: str, edges: str, as_of: date,
            config: IdentityConfig = IdentityConfig(), overrides: pd.DataFrame | None = None,
            scorer: Scorer | None = None) -> NightResult:
    """Resolve identities for the night ``as_of``; updates the ``identity`` schema.

    ``scorer`` scores the candidate pairs (default ``matching.predict``, Splink on this DuckDB connection); it is
    the one part that may run elsewhere (the Spark build scores on Spark): features, training, clustering and ids
    stay here, so both engines share them."""
    t0 = time.perf_counter()
    clock = _Clock()
    state.ensure(con)
    state.rollback(con, as_of)
    con.execute(f"create or replace temp table __bz_match_input as {match_input_sql(records, edges)}")
    con.execute("""create or replace temp table __bz_match_hash as
        select unique_id, md5(concat_ws('|', name, name_pinyin, birth_date, phone, email, city, address, gender,
                                        postcode, member_card, web_login, list_ref)) as row_hash
        from __bz_match_input""")
    n_named = con.execute("select count(*) from __bz_match_input").fetchall()[0][0]
    mode, trained_on, rescored, note = _score(con, as_of, config, n_named, scorer or matching.predict)
    clock.lap("match")

    matches = con.execute("select count(*) from identity.match_edges where match_probability >= ? and guard is null",
                          [config.match_threshold]).fetchall()[0][0]
    must, cannot = _overrides(overrides)
    out, refused = _cluster(con, records, edges, config.match_threshold, must, cannot)
    clock.lap("cluster")

    cids, journal = ids.assign_ids(out, state.issued_ids(con))
    out["customer_id"] = cids.to_numpy(dtype=object)[out["label"].to_numpy()]
    changed = ids.changed_share(out, cids)
    clock.lap("ids")
    state.write_registry(con, out, as_of)
    state.append(con, "journal", journal.assign(as_of=as_of)[["as_of", *journal.columns]])
    state.append(con, "refused_edges", refused.assign(as_of=as_of)[["as_of", "a", "b", "rule", "reason"]])
    failpoint("build")  # failure-injection tests kill the night here, after identity state was written

    clock.lap("registry")
    out["cluster_size"] = np.bincount(out["label"].to_numpy())[out["label"].to_numpy()]
    run = _run_stats(out, cids, journal, changed, config)
    run.update(as_of=as_of, mode=mode, model_trained_on=trained_on, records=len(out), rescored_records=rescored,
               match_edges=int(matches), seconds=round(time.perf_counter() - t0, 2),
               matching="keys only" if mode == "keys only" else "probabilistic", matching_note=note,
               match_threshold=config.match_threshold)
    state.append(con, "runs", pd.DataFrame([run])[_RUN_COLUMNS])
    clock.lap("report")
    run["phase_seconds"] = clock.laps
    cols = ["source", "source_record_id", "customer_id", "match_rule", "match_probability", "linked_via",
            "cluster_size"]
    return NightResult(records=out[cols].sort_values(["source", "source_record_id"]).reset_index(drop=True),
                       run=run)


class _Clock:
    """Seconds per phase of a night, so a slow night says where its time went."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 2)
        self._t = now


def _score(con, as_of: date, config: IdentityConfig, n_named: int,
           scorer: Scorer) -> tuple[str, date | None, int, str | None]:
    """Bring identity.match_edges up to date with tonight's match input.

    Returns the mode run, the date the model used was trained on, the records scored,
    and a note for the run summary when matching did less than a full model would
    (keys only, comparisons left out, blocking rules dropped for the budget)."""
    stored = state.latest_model(con, as_of)
    mode = config.mode
    outdated = stored is not None and stored[1].settings.get("bullseye_model_version") != matching.MODEL_VERSION
    if outdated and mode != "retrain":
        log.warning("identity: the stored match model predates this version of the comparisons; retraining")
    if mode == "retrain" or stored is None or outdated:
        model, why = _train_or_none(con, n_named)
        if model is None:
            con.execute("delete from identity.match_edges")
            con.execute("delete from identity.match_inputs")
            return "keys only", None, 0, f"keys only: {why}"
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
            new = scorer(con, model, "__bz_match_input", floor, new_table="__bz_changed")
            state.append(con, "match_edges", new)
    else:
        new = scorer(con, model, "__bz_match_input", floor)
        con.execute("delete from identity.match_edges")
        state.append(con, "match_edges", new)
        rescored = n_named
    con.execute("delete from identity.match_inputs")
    con.execute("insert into identity.match_inputs select unique_id, row_hash from __bz_match_hash")
    return mode, trained_on, int(rescored), model.settings.get("bullseye_note")


MIN_TRAINING_RECORDS = 500


def _train_or_none(con, n_named: int) -> tuple[matching.MatchModel | None, str | None]:
    """Train the match model, or say why it cannot be (too few records for EM to mean
    anything, no column to block or train on): that night links on keys only."""
    from splink.internals.exceptions import EMTrainingException

    if n_named < MIN_TRAINING_RECORDS:
        why = (f"{n_named} records to match, fewer than the {MIN_TRAINING_RECORDS} the match model needs to be "
               "trained")
        log.warning("identity: %s: linking on keys only tonight", why)
        return None, why
    try:
        return matching.train(con, "__bz_match_input"), None
    except (EMTrainingException, matching.CannotTrain) as exc:
        why = f"the match model could not be trained ({str(exc).splitlines()[0]})"
        log.warning("identity: %s: linking on keys only tonight", why)
        return None, why


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


_UNUSABLE = ("blocked: too many records", "shared key: too many names")


def _rule_code_sql(column: str) -> str:
    whens = " ".join(f"when '{rule}' then {code}" for rule, code in graph.RULE_CODE.items())
    return f"case {column} {whens} end"


def _cluster(con, records: str, edges: str, threshold: float, must: pd.DataFrame,
             cannot: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two passes. Pass 1 clusters named records (account keys, single-name contact
    keys, same-name family keys, matches, must-links). Then a contact key counts as a
    family or shop key only if it is carried by more than one *person* of pass 1, not
    by more than one spelling of a name: a phone typed under 张伟 and 張偉 is one
    person's. Pass 2 lets contact keys of one person tie in everything that carries
    them, including anonymous web visitors.

    DuckDB numbers the nodes (records in key order, then key nodes) and hands numpy
    arrays to :mod:`graph`; strings come back only in the final join.
    Returns (records: record, source, source_record_id, label, match_rule,
    match_probability, linked_via, previous_id (last night's customer_id); refused edges: a, b, rule, reason)."""
    n_rec, n_nodes, conflict = _number_nodes(con, records, edges)
    keys = _arrays(con, f"""select k.a, n.idx as b, {_rule_code_sql('k.key_type')} as rule, null::double as p
        from __bz_keyedge k join __bz_node n on n.name = k.node
        where k.named or k.key_type not in {CONTACT_KEYS}""")
    matches = _arrays(con, f"""select l.idx as a, r.idx as b, {graph.MATCH} as rule, m.match_probability as p
        from identity.match_edges m join __bz_rec l on l.record = m.unique_id_l
        join __bz_rec r on r.record = m.unique_id_r
        where m.match_probability >= {float(threshold)} and m.guard is null""")
    must_i = _pair_indices(con, must)
    # Pairs the precision guard judged two people (a common name, everything else disagreeing) may
    # not end up in one cluster through a third record that resembles both (one without an address).
    guarded = con.execute("select unique_id_l as a, unique_id_r as b from identity.match_edges where guard is not null"
                          ).df()
    cannot_i = _pair_indices(con, pd.concat([cannot[["a", "b"]], guarded], ignore_index=True))
    pass1 = graph.Graph(
        n_rec, n_nodes, np.r_[keys["a"], matches["a"], must_i[0]], np.r_[keys["b"], matches["b"], must_i[1]],
        np.r_[keys["rule"], matches["rule"], np.full(len(must_i[0]), graph.MUST_LINK)],
        np.r_[keys["p"], matches["p"], np.full(len(must_i[0]), np.nan)], conflict, *cannot_i)
    first = graph.components(pass1, explain=False).label

    contact = _arrays(con, f"""select k.a, n.idx as b, {_rule_code_sql('k.key_type')} as rule, k.named
        from __bz_keyedge k join __bz_node n on n.name = k.plain where k.contact""")
    named = contact["named"].astype(bool)
    people = graph.distinct_pairs(contact["b"][named], first[contact["a"][named]], n_nodes)
    n_people = np.bincount(people, minlength=n_nodes)
    one = n_people[contact["b"]] <= 1
    final_graph = pass1.plus(contact["a"][one], contact["b"][one], contact["rule"][one])
    res = graph.components(final_graph)

    con.register("__bz_clusters", pd.DataFrame({"idx": np.arange(n_rec), "label": res.label, "rule": res.tie_rule,
                                                "p": res.tie_prob, "via": res.tie_via}))
    out = con.execute("""select r.record, r.source, r.source_record_id, c.label, c.rule,
            c.p as match_probability, coalesce(n.name, v.record) as linked_via, g.customer_id as previous_id
        from __bz_clusters c join __bz_rec r on r.idx = c.idx
        left join identity.registry g on g.record = r.record and g.valid_to is null
        left join __bz_node n on n.idx = c.via left join __bz_rec v on v.idx = c.via
        order by c.idx""").df()
    con.unregister("__bz_clusters")
    out.insert(4, "match_rule", graph.rule_labels(out.pop("rule").to_numpy()))
    refused = [(final_graph.a[i], final_graph.b[i], graph.KEY_PRIORITY[final_graph.rule[i]], why)
               for i, why in res.refused]
    names = _names(con, [x for r in refused for x in r[:2]])
    refused = pd.DataFrame([(names[a], names[b], rule, why) for a, b, rule, why in refused],
                           columns=["a", "b", "rule", "reason"])
    for table in ("__bz_rec", "__bz_keyedge", "__bz_node"):
        con.execute(f"drop table if exists {table}")
    return out, refused


def _number_nodes(con, records: str, edges: str) -> tuple[int, int, np.ndarray]:
    """Temp tables __bz_rec (records, numbered in key order), __bz_keyedge (their keys) and
    __bz_node (key nodes, numbered after the records). Returns the record count, the node
    count, and each node's conflict kind (see graph.Graph)."""
    con.execute(f"""create or replace temp table __bz_rec as
        select source, source_record_id, source || '|' || source_record_id as record, name is not null as named,
               (row_number() over (order by source || '|' || source_record_id) - 1)::bigint as idx
        from {records}""")
    con.execute(f"""create or replace temp table __bz_keyedge as
        select r.idx as a, r.named, e.key_type, e.node, e.key_type || ':' || e.key_value as plain,
               e.key_type in {CONTACT_KEYS} and e.rule not in {_UNUSABLE} as contact
        from {edges} e join __bz_rec r using (source, source_record_id)""")
    n_rec = con.execute("select count(*) from __bz_rec").fetchall()[0][0]
    con.execute(f"""create or replace temp table __bz_node as
        select name, ({n_rec} + row_number() over (order by name) - 1)::bigint as idx
        from (select node as name from __bz_keyedge where node is not null
              union select plain from __bz_keyedge where contact)""")
    n_nodes = n_rec + con.execute("select count(*) from __bz_node").fetchall()[0][0]
    conflict = np.full(n_nodes, -1, dtype=np.int64)
    for kind, name in enumerate(graph.CONFLICT_KEYS):
        hit = con.execute("select idx from __bz_node where starts_with(name, ?)", [name + ":"]).fetchnumpy()
        conflict[hit["idx"]] = kind
    return n_rec, n_nodes, conflict


def _arrays(con, sql: str) -> dict[str, np.ndarray]:
    """A query's columns as numpy arrays (ints stay int64, NULL probabilities become NaN)."""
    cols = con.execute(sql).fetchnumpy()
    out = {}
    for k, v in cols.items():
        if np.ma.isMaskedArray(v):
            v = v.filled(np.nan) if k == "p" else v.filled(0)
        out[k] = np.asarray(v, dtype=float if k == "p" else np.int64)
    return out


def _pair_indices(con, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Record numbers of (a, b) record-key pairs; pairs naming an unknown record are dropped."""
    if not len(pairs):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    con.register("__bz_pairs", pairs[["a", "b"]])
    got = _arrays(con, """select l.idx as a, r.idx as b from __bz_pairs p
                          join __bz_rec l on l.record = p.a join __bz_rec r on r.record = p.b""")
    con.unregister("__bz_pairs")
    return got["a"], got["b"]


def _names(con, idx: list[int]) -> dict[int, str]:
    """Record keys or key node names of a few node numbers."""
    if not idx:
        return {}
    wanted = ", ".join(str(int(i)) for i in set(idx))
    return dict(con.execute(f"""select idx, record from __bz_rec where idx in ({wanted})
                                union all select idx, name from __bz_node where idx in ({wanted})""").fetchall())


_RUN_COLUMNS = ["as_of", "mode", "model_trained_on", "records", "rescored_records", "match_edges", "people",
                "new_people", "merges", "splits", "changed_share", "cluster_sizes", "source_match_share",
                "blocked", "block_reason", "seconds", "matching", "matching_note", "match_threshold"]
_SIZE_BINS = [(1, 1), (2, 2), (3, 5), (6, 10), (11, None)]


def _run_stats(out: pd.DataFrame, cids: pd.Series, journal: pd.DataFrame, changed: float,
               config: IdentityConfig) -> dict:
    sizes = pd.Series(np.bincount(out["label"].to_numpy(), minlength=len(cids)))
    dist = {}
    for lo, hi in _SIZE_BINS:
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi else f"{lo}+")
        dist[label] = int(((sizes >= lo) & ((sizes <= hi) if hi else True)).sum())
    share = out.assign(m=out["cluster_size"] > 1).groupby("source")["m"].mean().round(4).to_dict()
    had_previous = bool(out["previous_id"].notna().any())
    blocked = had_previous and changed > config.max_changed_share
    return dict(
        people=int(len(sizes)), new_people=int((~cids.isin(out["previous_id"].dropna())).sum()),
        merges=int((journal["event"] == "merge").sum()), splits=int((journal["event"] == "split").sum()),
        changed_share=round(changed, 6), cluster_sizes=json.dumps(dist), source_match_share=json.dumps(share),
        blocked=blocked,
        block_reason=(f"{changed:.1%} of records changed customer_id since the previous night "
                      f"(limit {config.max_changed_share:.1%})") if blocked else None,
    )
