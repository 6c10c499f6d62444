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

The work is done on integer node numbers (:class:`Graph`): at a million records,
pandas string lookups cost a minute where numpy on integers costs seconds. The
resolver numbers the nodes in DuckDB; :func:`cluster` numbers them for callers that
hold strings (tests, small cases).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Strongest first: the order in which an inconsistent component is rebuilt, and the
# rule reported for a record (the strongest edge that tied it to another record).
KEY_PRIORITY = ("must_link", "id_card", "wechat_unionid", "member_card", "web_login", "phone", "email", "match")
RULE_CODE = {rule: code for code, rule in enumerate(KEY_PRIORITY)}
MATCH, MUST_LINK = RULE_CODE["match"], RULE_CODE["must_link"]
CONFLICT_KEYS = ("id_card",)
_NO_EDGES = np.zeros(0, dtype=np.int64)


@dataclass
class Graph:
    """Records are nodes ``0 .. n_rec-1``, numbered in the order of their keys (so the
    smallest number is the smallest key); key nodes follow. Edge ``i`` joins record
    ``a[i]`` to node ``b[i]`` by ``KEY_PRIORITY[rule[i]]``, with ``prob[i]`` for matches
    (NaN otherwise). ``conflict[node]`` is the index in ``CONFLICT_KEYS`` of a conflict
    key node, -1 for every other node: two conflict nodes of one kind are two values."""

    n_rec: int
    n_nodes: int
    a: np.ndarray
    b: np.ndarray
    rule: np.ndarray
    prob: np.ndarray
    conflict: np.ndarray
    cannot_a: np.ndarray = field(default_factory=lambda: _NO_EDGES)
    cannot_b: np.ndarray = field(default_factory=lambda: _NO_EDGES)

    def subset(self, keep: np.ndarray) -> Graph:
        """The same nodes with only the edges in the boolean mask ``keep``."""
        return Graph(self.n_rec, self.n_nodes, self.a[keep], self.b[keep], self.rule[keep], self.prob[keep],
                     self.conflict, self.cannot_a, self.cannot_b)

    def plus(self, a: np.ndarray, b: np.ndarray, rule: np.ndarray) -> Graph:
        """The graph with more deterministic edges."""
        return Graph(self.n_rec, self.n_nodes, np.r_[self.a, a], np.r_[self.b, b], np.r_[self.rule, rule],
                     np.r_[self.prob, np.full(len(a), np.nan)], self.conflict, self.cannot_a, self.cannot_b)


@dataclass
class Components:
    """Result of :func:`components`: ``label`` per record (consecutive, ordered by each
    cluster's smallest record), edges ``accepted``, and refused edges as edge indices with
    their reason. With ``explain``: per record the rule code of the strongest tying edge
    (-1 for a singleton), its probability and the node it went through (-1 for none)."""

    label: np.ndarray
    accepted: np.ndarray
    refused: list[tuple[int, str]]
    tie_rule: np.ndarray | None = None
    tie_prob: np.ndarray | None = None
    tie_via: np.ndarray | None = None


@dataclass
class Clusters:
    """Result of :func:`cluster`.

    records: one row per record: record, label, match_rule, match_probability, linked_via.
    refused: edges refused to keep a person consistent: a, b, rule, reason.
    """

    records: pd.DataFrame
    refused: pd.DataFrame


def strength(rule: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Lower is stronger: the rule's rank, and among matches the higher probability."""
    return rule.astype(float) - np.nan_to_num(prob.astype(float), nan=1.0) * 0.5


def components(g: Graph, explain: bool = True) -> Components:
    """People in ``g``: connected components, with inconsistent ones rebuilt strongest edge first."""
    adj = coo_matrix((np.ones(len(g.a), dtype=np.int8), (g.a, g.b)), shape=(g.n_nodes, g.n_nodes))
    _, labels = connected_components(adj, directed=False)
    bad = _inconsistent_components(g, labels)
    accepted = np.ones(len(g.a), dtype=bool)
    refused: list[tuple[int, str]] = []
    if len(bad):
        labels, accepted, refused = _rebuild(g, labels, bad)
    # Relabel by each cluster's smallest record (records are numbered in key order).
    _, first, inverse = np.unique(labels[: g.n_rec], return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    out = Components(label=rank[inverse], accepted=accepted, refused=refused)
    if explain:
        out.tie_rule, out.tie_prob, out.tie_via = _tie_rules(g.subset(accepted), labels)
    return out


def _inconsistent_components(g: Graph, labels: np.ndarray) -> np.ndarray:
    nodes = np.flatnonzero(g.conflict >= 0)
    bad = np.zeros(0, dtype=np.int64)
    if len(nodes):
        per = pd.DataFrame({"label": labels[nodes], "kind": g.conflict[nodes]}).value_counts()
        bad = per[per > 1].index.get_level_values("label").to_numpy(np.int64)
    if len(g.cannot_a):
        la, lb = labels[g.cannot_a], labels[g.cannot_b]
        bad = np.r_[bad, la[la == lb]]
    return np.unique(bad)


def _rebuild(g: Graph, labels: np.ndarray, bad: np.ndarray):
    """Kruskal over the edges of inconsistent components, refusing conflicting joins."""
    in_bad = np.isin(labels[g.a], bad)
    idx = np.flatnonzero(in_bad)
    s = strength(g.rule, g.prob)
    idx = idx[np.lexsort((g.b[idx], g.a[idx], s[idx]))]
    nodes = np.flatnonzero(np.isin(labels, bad))
    parent = {int(x): int(x) for x in nodes}
    values = {int(x): {int(g.conflict[x]): int(x)} for x in nodes if g.conflict[x] >= 0}
    # Per set root: the constrained records it holds, and the records it may never hold.
    forbid: dict[int, set[int]] = {}
    members: dict[int, set[int]] = {}
    for a, b in zip(g.cannot_a.tolist(), g.cannot_b.tolist(), strict=True):
        forbid.setdefault(a, set()).add(b)
        forbid.setdefault(b, set()).add(a)
        members[a], members[b] = {a}, {b}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    accepted = ~in_bad
    refused = []
    for i in idx.tolist():
        ra, rb = find(int(g.a[i])), find(int(g.b[i]))
        if ra == rb:
            accepted[i] = True
            continue
        va, vb = values.get(ra, {}), values.get(rb, {})
        clash = [k for k in va if k in vb and va[k] != vb[k]]
        blocked = (forbid.get(ra, set()) & members.get(rb, set())) or (forbid.get(rb, set()) & members.get(ra, set()))
        if g.rule[i] != MUST_LINK and (clash or blocked):
            why = f"conflicting {CONFLICT_KEYS[clash[0]]}" if clash else "cannot-link (override or precision guard)"
            refused.append((i, why))
            continue
        accepted[i] = True
        parent[rb] = ra
        values[ra] = {**vb, **va}
        if rb in members:
            members[ra] = members.get(ra, set()) | members.pop(rb)
            forbid[ra] = forbid.get(ra, set()) | forbid.pop(rb)
    new = labels.copy()
    roots = np.array([find(int(x)) for x in nodes], dtype=np.int64)
    new[nodes] = labels.max() + 1 + roots  # unique: roots are node indices
    return new, accepted, refused


def _tie_rules(g: Graph, labels: np.ndarray):
    """For each record, the strongest accepted edge that ties it to another record."""
    rule = np.full(g.n_rec, -1, dtype=np.int64)
    prob = np.full(g.n_rec, np.nan)
    via = np.full(g.n_rec, -1, dtype=np.int64)
    if not len(g.a):
        return rule, prob, via
    # A key node ties records only if more than one record uses it.
    users = np.bincount(distinct_pairs(g.b, g.a, g.n_nodes), minlength=g.n_nodes)
    tie = (g.b < g.n_rec) | (users[g.b] > 1)
    a, b, r, p = g.a[tie], g.b[tie], g.rule[tie], g.prob[tie]
    back = b < g.n_rec  # record-to-record edges tie both ends
    a, b = np.r_[a, b[back]], np.r_[b, a[back]]
    r, p = np.r_[r, r[back]], np.r_[p, p[back]]
    order = np.lexsort((b, strength(r, p), a))
    a, b, r, p = a[order], b[order], r[order], p[order]
    first = _run_starts(a)
    rule[a[first]] = r[first]
    prob[a[first]] = np.where(r[first] == MATCH, p[first], 1.0)
    via[a[first]] = b[first]
    return rule, prob, via


def distinct_pairs(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """``x`` of each distinct (x, y) pair, for values below ``n`` (count them with bincount)."""
    key = np.sort(x.astype(np.int64) * n + y)
    return key[_run_starts(key)] // n


def _run_starts(x: np.ndarray) -> np.ndarray:
    """Where each run of equal values in sorted ``x`` starts (empty for empty ``x``)."""
    return np.r_[True, x[1:] != x[:-1]] if len(x) else np.zeros(0, dtype=bool)


def rule_labels(codes: np.ndarray) -> np.ndarray:
    """The match_rule a record reports for the rule code of its strongest tie."""
    names = np.array(["singleton", *(f"deterministic:{k}" for k in KEY_PRIORITY)], dtype=object)
    names[1 + MATCH], names[1 + MUST_LINK] = "probabilistic", "override:must_link"
    return names[codes + 1]


def cluster(records, edges: pd.DataFrame, cannot_link: pd.DataFrame | None = None,
            explain: bool = True) -> Clusters:
    """Cluster ``records`` (record keys) over ``edges`` (a, b, rule, probability), by key.

    ``a`` is always a record key; ``b`` is a record key or a key node (``type:value``).
    ``cannot_link`` (a, b) pairs of record keys never end in the same cluster.
    Labels are consecutive integers, ordered by each cluster's smallest record key.
    """
    records = np.sort(pd.unique(np.asarray(records, dtype=object)))
    rec_index = pd.Index(records, dtype=object)
    edges = edges[rec_index.get_indexer(edges["a"].astype(object)) >= 0].reset_index(drop=True)
    b_names = pd.Index(pd.unique(edges["b"].to_numpy(dtype=object)), dtype=object)
    names = pd.Index(np.r_[records, np.sort(b_names[~b_names.isin(rec_index)].to_numpy())], dtype=object)
    kinds = pd.Series(names.to_numpy()).str.split(":", n=1).str[0]
    conflict = kinds.map({k: i for i, k in enumerate(CONFLICT_KEYS)}).fillna(-1).to_numpy(np.int64)
    conflict[: len(records)] = -1
    cl = cannot_link if cannot_link is not None else pd.DataFrame(columns=["a", "b"])
    ca, cb = rec_index.get_indexer(cl["a"].astype(object)), rec_index.get_indexer(cl["b"].astype(object))
    known = (ca >= 0) & (cb >= 0)
    prob = edges["probability"] if "probability" in edges else pd.Series(np.nan, index=edges.index)
    g = Graph(len(records), len(names), names.get_indexer(edges["a"].astype(object)).astype(np.int64),
              names.get_indexer(edges["b"].astype(object)).astype(np.int64),
              edges["rule"].map(RULE_CODE).to_numpy(np.int64), pd.to_numeric(prob).to_numpy(float), conflict,
              ca[known].astype(np.int64), cb[known].astype(np.int64))
    res = components(g, explain)
    out = pd.DataFrame({"record": records, "label": res.label})
    if explain:
        out["match_rule"] = rule_labels(res.tie_rule)
        out["match_probability"] = res.tie_prob
        out["linked_via"] = np.where(res.tie_via >= 0, names.to_numpy()[np.maximum(res.tie_via, 0)], None)
    refused = pd.DataFrame([(edges["a"].iat[i], edges["b"].iat[i], edges["rule"].iat[i], why)
                            for i, why in res.refused], columns=["a", "b", "rule", "reason"])
    return Clusters(records=out, refused=refused)
