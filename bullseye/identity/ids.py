"""Stable customer_ids across nights, and the journal of merges and splits.

Marketers, BI dashboards and downstream systems keep customer_ids; an id that
changes because a new record arrived breaks their joins. So each night's clusters
inherit the ids of the previous night:

- a cluster whose records carried one id keeps it;
- a cluster whose records carried several ids (a merge) keeps the *oldest* id
  (first issued; ties broken by the id itself) and the others are retired into it;
- an id whose records are now in several clusters (a split) stays with the cluster
  holding most of its records (ties: the one with the smallest record key); the
  other parts get new ids;
- a cluster with no previous id gets a new one, derived from its smallest record
  key, so a rebuild from scratch gives the same ids. A derived id that was ever
  issued before is never reused: it is re-derived with a counter.

Every retired or split-off id is written to the journal (old id -> new id, why).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def customer_id_for(record_key: str, attempt: int = 0) -> str:
    text = record_key if attempt == 0 else f"{record_key}#{attempt}"
    return "C" + hashlib.md5(text.encode("utf-8")).hexdigest()[:12].upper()


def assign_ids(clusters: pd.DataFrame, issued: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Give each cluster label a customer_id.

    clusters: record, label, match_rule, previous_id (last night's customer_id of the
    record, None for a record new tonight). Labels are consecutive and ordered by each
    cluster's smallest record key, as :mod:`graph` numbers them, so "the cluster with
    the smallest record key" is "the smallest label".
    issued: customer_id, first_issued (every id ever issued, with its first night).
    Returns (customer_id per label, journal rows: event, old_customer_id, new_customer_id,
    records, reason).
    """
    labels = clusters["label"].to_numpy(np.int64)
    old_code, old_ids = pd.factorize(clusters["previous_id"])
    had = old_code >= 0
    # How many of each old id's records went to each label.
    counts = pd.DataFrame({"old": old_code[had], "label": labels[had]}).value_counts().rename("n").reset_index()
    # Each old id goes to the label holding most of its records.
    home = counts.sort_values(["old", "n", "label"], ascending=[True, False, True]).drop_duplicates("old")
    home["customer_id"] = np.asarray(old_ids, dtype=object)[home["old"].to_numpy()]
    home = home.merge(issued[["customer_id", "first_issued"]], on="customer_id", how="left")
    home["first_issued"] = home["first_issued"].fillna(pd.Timestamp.max.normalize())
    # Among the old ids at home in one label, the oldest survives.
    home = home.sort_values(["label", "first_issued", "customer_id"])
    survivor = home.drop_duplicates("label").set_index("label")["customer_id"]

    ids = pd.Series(None, index=pd.RangeIndex(labels.max() + 1 if len(labels) else 0), dtype=object)
    ids.loc[survivor.index] = survivor
    fresh = ids.index[ids.isna()]
    first_key = clusters[np.isin(labels, fresh)].groupby("label")["record"].min()
    used = set(issued["customer_id"]) | set(survivor)
    for label in fresh:
        attempt = 0
        cid = customer_id_for(first_key[label])
        while cid in used:
            attempt += 1
            cid = customer_id_for(first_key[label], attempt)
        used.add(cid)
        ids[label] = cid

    journal = []
    merged = home[home["customer_id"] != home["label"].map(survivor)]
    if len(merged):
        merged = merged.merge(_top_rules(clusters, merged), on=["customer_id", "label"], how="left")
    for r in merged.itertuples():
        journal.append(("merge", r.customer_id, ids[r.label], int(r.n), f"merged by {r.rule}"))
    away = counts.merge(home[["old", "label"]].rename(columns={"label": "home"}), on="old")
    away = away[away["label"] != away["home"]]
    for r in away.itertuples():
        old = old_ids[r.old]
        journal.append(("split", old, ids[r.label], int(r.n), f"{r.n} record(s) no longer tied to {old}"))
    cols = ["event", "old_customer_id", "new_customer_id", "records", "reason"]
    return ids, pd.DataFrame(journal, columns=cols)


def _top_rules(clusters: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The most common tie rule among the records of each (old id, label) pair: the why of a merge."""
    rows = clusters[clusters["previous_id"].isin(pairs["customer_id"])]
    rows = rows.rename(columns={"previous_id": "customer_id"}).merge(pairs[["customer_id", "label"]])
    rows = rows[rows["match_rule"] != "singleton"]
    top = rows.groupby(["customer_id", "label", "match_rule"]).size().rename("k").reset_index()
    top = top.sort_values(["customer_id", "label", "k", "match_rule"], ascending=[True, True, False, True])
    top = top.drop_duplicates(["customer_id", "label"]).rename(columns={"match_rule": "rule"})
    out = pairs[["customer_id", "label"]].merge(top[["customer_id", "label", "rule"]], how="left")
    return out.fillna({"rule": "singleton"})


def changed_share(clusters: pd.DataFrame, ids: pd.Series) -> float:
    """Share of last night's records whose customer_id is different tonight."""
    had = clusters["previous_id"].notna().to_numpy()
    if not had.any():
        return 0.0
    now = ids.to_numpy(dtype=object)[clusters["label"].to_numpy(np.int64)[had]]
    return float(np.mean(clusters["previous_id"].to_numpy(dtype=object)[had] != now))
