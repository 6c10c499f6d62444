"""Deterministic identity resolution: records that share a usable key are one person.

Records and key nodes form a bipartite graph (record -> ``phone:+86...``); its
connected components are people. Building the graph through key nodes instead
of record pairs keeps it linear in the number of keys, even for keys that many
records share. Which keys may link, and through which node, is decided upstream
in SQL (``int_identity__edges``); this module only clusters and labels.

``customer_id`` is derived from the smallest record key in the cluster, so the
same input always gives the same ids, and a person keeps their id as long as
their oldest-sorting record stays with them. (Full id stability with a merge
journal is the job of the probabilistic resolver.)
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Stronger keys first: the rule reported for a record is the strongest key that tied it.
KEY_PRIORITY = ("id_card", "wechat_unionid", "member_card", "web_login", "phone", "email")


def customer_id_for(record_key: str) -> str:
    return "C" + hashlib.md5(record_key.encode("utf-8")).hexdigest()[:12].upper()


def cluster_records(records: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Cluster ``records`` (source, source_record_id) using ``edges`` (…, key_type, node).

    Returns one row per record: source, source_record_id, customer_id, match_rule,
    match_probability, cluster_size.
    """
    rec = records[["source", "source_record_id"]].drop_duplicates().reset_index(drop=True)
    rec_key = (rec["source"] + "|" + rec["source_record_id"]).to_numpy()
    used = edges[edges["node"].notna()]
    index = pd.Series(np.arange(len(rec)), index=rec_key)
    e_rec = index.reindex((used["source"] + "|" + used["source_record_id"]).to_numpy()).to_numpy()
    keep = ~np.isnan(e_rec)
    used = used[keep]
    e_rec = e_rec[keep].astype(np.int64)
    nodes, e_node = np.unique(used["node"].to_numpy(dtype=str), return_inverse=True)
    n = len(rec) + len(nodes)
    graph = coo_matrix((np.ones(len(e_rec), dtype=np.int8), (e_rec, e_node + len(rec))), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    rec_labels = labels[: len(rec)]

    out = rec.copy()
    out["_key"] = rec_key
    out["_label"] = rec_labels
    first = out.groupby("_label")["_key"].transform("min")
    out["customer_id"] = first.map(customer_id_for)
    out["cluster_size"] = out.groupby("_label")["_key"].transform("size")

    # Match rule: the strongest key type through which the record shares a node with another record.
    node_size = np.bincount(e_node, minlength=len(nodes))
    linking = used.assign(_rec=e_rec, _shared=node_size[e_node] > 1)
    linking = linking[linking["_shared"]]
    rank = {k: i for i, k in enumerate(KEY_PRIORITY)}
    linking = linking.assign(_rank=linking["key_type"].map(rank).fillna(len(rank)))
    best = linking.sort_values(["_rec", "_rank"]).drop_duplicates("_rec")
    rule = pd.Series("singleton", index=np.arange(len(rec)), dtype=object)
    rule.loc[best["_rec"].to_numpy()] = ("deterministic:" + best["key_type"]).to_numpy()
    out["match_rule"] = rule.to_numpy()
    out["match_probability"] = 1.0
    return out[["source", "source_record_id", "customer_id", "match_rule", "match_probability",
                "cluster_size"]].sort_values(["source", "source_record_id"]).reset_index(drop=True)
