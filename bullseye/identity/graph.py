"""Clustering records into people over accepted edges, without over-merging.

The graph has two kinds of nodes: records (``source|source_record_id``) and key
nodes (``phone:+86…``). A deterministic edge ties a record to a key node, a
probabilistic edge or a must-link override ties two records. Going through key
nodes keeps the graph linear in the number of keys, even for keys many records share.

Connected components give the people. A component is only trusted as it is when
it is *consistent*: at most one value of each conflict key (two different ID-card
hashes are two people) and no cannot-link pair inside. An inconsistent component is
rebuilt edge by edge, strongest first (must-link, ID card, unionid, … phone, email,
then matches by probability), refusing any edge that would join two conflicting
parts. Refused edges are returned, so "why were these two not merged?" has an answer.
Only the few inconsistent components pay for the Python loop; the rest is scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Strongest first: the order in which an inconsistent component is rebuilt, and the
# rule reported for a record (the strongest edge that tied it to another record).
KEY_PRIORITY = ("must_link", "id_card", "wechat_unionid", "member_card", "web_login", "phone", "email", "match")
CONFLICT_KEYS = ("id_card",)


@dataclass
class Clusters:
    """Result of :func:`cluster`.

    records: one row per record: record, label, match_rule, match_probability, linked_via.
    refused: edges refused to keep a person consistent: a, b, rule, reason.
    """

    records: pd.DataFrame
    refused: pd.DataFrame


def _strength(rule: pd.Series, probability: pd.Series) -> np.ndarray:
    rank = rule.map({k: i for i, k in enumerate(KEY_PRIORITY)}).fillna(len(KEY_PRIORITY)).to_numpy(float)
    return rank - np.nan_to_num(probability.to_numpy(float), nan=1.0) * 0.5  # matches: higher probability first


def cluster(records: np.ndarray, edges: pd.DataFrame, cannot_link: pd.DataFrame | None = None,
            explain: bool = True) -> Clusters:
    """Cluster ``records`` (array of record keys) over ``edges`` (a, b, rule, probability).

    ``a`` is always a record key; ``b`` is a record key or a key node (``type:value``).
    ``cannot_link`` (a, b) pairs of record keys never end in the same cluster.
    Labels are consecutive integers, ordered by each cluster's smallest record key.
    With ``explain=False`` the tie rules are not worked out (a preliminary pass).
    """
    records = np.sort(pd.unique(np.asarray(records, dtype=object)))
    rec_index = pd.Index(records)
    edges = edges[edges["a"].isin(rec_index)].reset_index(drop=True)
    b_nodes = pd.Index(pd.unique(edges["b"].to_numpy(dtype=object)))
    node_names = pd.Index(np.r_[records, b_nodes[~b_nodes.isin(rec_index)].to_numpy()])
    n_rec, n = len(records), len(node_names)
    ea = node_names.get_indexer(edges["a"])
    eb = node_names.get_indexer(edges["b"])
    graph = coo_matrix((np.ones(len(ea), dtype=np.int8), (ea, eb)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)

    cl = cannot_link if cannot_link is not None else pd.DataFrame(columns=["a", "b"])
    cl = cl[cl["a"].isin(records) & cl["b"].isin(records)]
    bad = _inconsistent_components(labels, node_names, n_rec, cl)
    refused = pd.DataFrame(columns=["a", "b", "rule", "reason"])
    accepted = np.ones(len(edges), dtype=bool)
    if len(bad):
        labels, accepted, refused = _rebuild(labels, bad, node_names, n_rec, edges, ea, eb, cl)

    rec_labels = labels[:n_rec]
    # Relabel by smallest record key so that labels do not depend on input order.
    order = pd.Series(records).groupby(rec_labels).transform("min").to_numpy()
    _, final = np.unique(order, return_inverse=True)
    out = pd.DataFrame({"record": records, "label": final})
    if explain:
        rule, prob, via = _tie_rules(edges[accepted], node_names, labels, n_rec, out)
        out["match_rule"], out["match_probability"], out["linked_via"] = rule, prob, via
    return Clusters(records=out, refused=refused.reset_index(drop=True))


def _conflict_values(node_names: pd.Index) -> pd.DataFrame:
    """Key nodes of conflict types and the value each carries."""
    names = pd.Series(node_names.to_numpy(dtype=object))
    frames = []
    for kind in CONFLICT_KEYS:
        hit = np.flatnonzero(names.str.startswith(kind + ":").fillna(False).to_numpy(bool))
        frames.append(pd.DataFrame({"node": hit, "kind": kind, "value": names.to_numpy()[hit]}))
    return pd.concat(frames, ignore_index=True)


def _inconsistent_components(labels, node_names, n_rec, cl: pd.DataFrame) -> np.ndarray:
    cv = _conflict_values(node_names)
    cv["label"] = labels[cv["node"].to_numpy()]
    multi = cv.groupby(["label", "kind"])["value"].nunique()
    bad = set(multi[multi > 1].index.get_level_values(0))
    if len(cl):
        la = labels[node_names.get_indexer(cl["a"])]
        lb = labels[node_names.get_indexer(cl["b"])]
        bad |= set(la[la == lb])
    return np.array(sorted(bad), dtype=np.int64)


def _rebuild(labels, bad, node_names, n_rec, edges, ea, eb, cl):
    """Kruskal over the edges of inconsistent components, refusing conflicting joins."""
    in_bad = np.isin(labels[ea], bad)
    idx = np.flatnonzero(in_bad)
    strength = _strength(edges["rule"], edges.get("probability", pd.Series(np.nan, index=edges.index)))
    idx = idx[np.lexsort((edges["a"].to_numpy(dtype=str)[idx], strength[idx]))]
    nodes = np.flatnonzero(np.isin(labels, bad))
    parent = {int(x): int(x) for x in nodes}
    cv = _conflict_values(node_names)
    values = {int(r.node): {r.kind: r.value} for r in cv.itertuples() if r.node in parent}
    # Per set root: the constrained records it holds, and the records it may never hold.
    forbid: dict[int, set[int]] = {}
    members: dict[int, set[int]] = {}
    for a, b in zip(node_names.get_indexer(cl["a"]), node_names.get_indexer(cl["b"]), strict=True):
        forbid.setdefault(int(a), set()).add(int(b))
        forbid.setdefault(int(b), set()).add(int(a))
        members[int(a)] = {int(a)}
        members[int(b)] = {int(b)}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    accepted = ~in_bad
    refused = []
    for i in idx:
        ra, rb = find(int(ea[i])), find(int(eb[i]))
        if ra == rb:
            accepted[i] = True
            continue
        rule = edges["rule"].iat[i]
        va, vb = values.get(ra, {}), values.get(rb, {})
        clash = [k for k in va if k in vb and va[k] != vb[k]]
        blocked = (forbid.get(ra, set()) & members.get(rb, set())) or (forbid.get(rb, set()) & members.get(ra, set()))
        if rule != "must_link" and (clash or blocked):
            reason = f"conflicting {clash[0]}" if clash else "cannot-link override"
            refused.append((edges["a"].iat[i], edges["b"].iat[i], rule, reason))
            continue
        accepted[i] = True
        parent[rb] = ra
        values[ra] = {**vb, **va}
        if rb in members:
            members[ra] = members.get(ra, set()) | members.pop(rb)
            forbid[ra] = forbid.get(ra, set()) | forbid.pop(rb)
    new = labels.copy()
    base = labels.max() + 1
    roots = np.array([find(int(x)) for x in nodes])
    new[nodes] = base + roots  # unique: roots are node indices
    return new, accepted, pd.DataFrame(refused, columns=["a", "b", "rule", "reason"])


def _tie_rules(edges: pd.DataFrame, node_names, labels, n_rec, out: pd.DataFrame):
    """For each record, the strongest accepted edge that ties it to another record."""
    n = len(out)
    rule = np.full(n, "singleton", dtype=object)
    prob = np.full(n, np.nan)
    via = np.full(n, None, dtype=object)
    if not len(edges):
        return rule, prob, via
    ea = node_names.get_indexer(edges["a"])
    eb = node_names.get_indexer(edges["b"])
    # A key node ties records only if more than one record in the same cluster uses it.
    users = pd.DataFrame({"b": eb, "a": ea}).groupby("b")["a"].nunique()
    tie = (eb < n_rec) | (pd.Series(eb).map(users).to_numpy() > 1)
    e = pd.DataFrame({"a": ea, "b": eb, "rule": edges["rule"].to_numpy(),
                      "p": edges.get("probability", pd.Series(np.nan, index=edges.index)).to_numpy(float)})[tie]
    both = pd.concat([e, e[e.b < n_rec].rename(columns={"a": "b", "b": "a"})], ignore_index=True)
    both["s"] = _strength(both["rule"], pd.Series(both["p"].to_numpy()))
    best = both.sort_values(["a", "s"]).drop_duplicates("a")
    labels_by_rule = {"match": "probabilistic", "must_link": "override:must_link"}
    rule[best["a"].to_numpy()] = [labels_by_rule.get(r, f"deterministic:{r}") for r in best["rule"]]
    prob[best["a"].to_numpy()] = np.where(best["rule"] == "match", best["p"], 1.0)
    via[best["a"].to_numpy()] = node_names.to_numpy(dtype=object)[best["b"].to_numpy()]
    return rule, prob, via
