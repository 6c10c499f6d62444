"""Answers to "who is this customer made of?" and "why were these two not merged?".

Reads the warehouse as the last build left it: the clusters with the edge that tied
each record, the key rules, the refused edges and the stored match model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from bullseye.config import setting
from bullseye.identity import matching, state
from bullseye.identity.resolver import match_input_sql

CLUSTERS = "intermediate.int_identity__clusters"
RECORDS = "intermediate.int_identity__records"
EDGES = "intermediate.int_identity__edges"


def _record_key(source_and_id: str) -> tuple[str, str]:
    if "|" not in source_and_id:
        raise ValueError(f"name a record as SOURCE|SOURCE_RECORD_ID, e.g. crm_customers|store_pos:S100001 "
                         f"(got {source_and_id!r})")
    source, rid = source_and_id.split("|", 1)
    return source, rid


def customer(con: duckdb.DuckDBPyConnection, customer_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records of a customer with the rule that tied each, and the journal entries naming the id."""
    state.ensure(con)
    members = con.execute(f"""
        select c.source, c.source_record_id, c.match_rule, round(c.match_probability, 4) as match_probability,
               c.linked_via, r.name, r.phone, r.email, r.city
        from {CLUSTERS} c left join {RECORDS} r using (source, source_record_id)
        where c.customer_id = ? order by c.source, c.source_record_id""", [customer_id]).df()
    journal = con.execute("""select * from identity.journal where old_customer_id = ? or new_customer_id = ?
                             order by as_of""", [customer_id, customer_id]).df()
    return members, journal


def night_threshold(con: duckdb.DuckDBPyConnection) -> float:
    """The match threshold of the latest resolved night, else the project's setting."""
    row = con.execute("select match_threshold from identity.runs where match_threshold is not null "
                      "order by as_of desc limit 1").fetchall()
    return float(row[0][0]) if row else float(setting("identity_match_threshold"))


@dataclass
class WhyNot:
    merged: bool
    customer_ids: tuple[str | None, str | None]
    reasons: list[str] = field(default_factory=list)
    comparison: dict = field(default_factory=dict)


def why_not(con: duckdb.DuckDBPyConnection, record_a: str, record_b: str, threshold: float | None = None,
            records: str = RECORDS, edges: str = EDGES, clusters: str = CLUSTERS) -> WhyNot:
    """Explain why two records (``source|source_record_id``) are, or are not, one person.

    The threshold is the one the latest night used (identity.runs), unless one is given."""
    state.ensure(con)
    if threshold is None:
        threshold = night_threshold(con)
    (sa, ra), (sb, rb) = _record_key(record_a), _record_key(record_b)
    ids = {}
    for s, r in ((sa, ra), (sb, rb)):
        row = con.execute(f"select customer_id from {clusters} where source = ? and source_record_id = ?",
                          [s, r]).fetchall()
        ids[(s, r)] = row[0][0] if row else None
    out = WhyNot(merged=ids[(sa, ra)] is not None and ids[(sa, ra)] == ids[(sb, rb)],
                 customer_ids=(ids[(sa, ra)], ids[(sb, rb)]))
    for (s, r), cid in ids.items():
        if cid is None:
            out.reasons.append(f"{s}|{r} is not in tonight's records (quarantined, filtered or never delivered)")
    shared = con.execute(f"""
        select a.key_type, a.key_value, a.rule, a.n_records, a.n_names
        from {edges} a join {edges} b using (key_type, key_value)
        where a.source = ? and a.source_record_id = ? and b.source = ? and b.source_record_id = ?""",
                         [sa, ra, sb, rb]).df()
    for k in shared.itertuples():
        out.reasons.append(f"share {k.key_type} {k.key_value}: {k.rule} ({k.n_records} records, {k.n_names} names)")
    if shared.empty:
        out.reasons.append("share no identifying key (phone, email, unionid, member card, ID card, web login)")
    refused = con.execute("""select * from identity.refused_edges
        where as_of = (select max(as_of) from identity.refused_edges)
          and (a in (?, ?) or b in (?, ?))""", [record_a, record_b, record_a, record_b]).df()
    for r in refused.itertuples():
        out.reasons.append(f"edge {r.a} - {r.b} ({r.rule}) refused: {r.reason}")
    pair = con.execute("""select match_probability, match_weight, guard from identity.match_edges
        where unique_id_l = least(?, ?) and unique_id_r = greatest(?, ?)""",
                       [record_a, record_b, record_a, record_b]).fetchall()
    if pair:
        p, w, guard = pair[0]
        verdict = "at or above" if p >= threshold else "below"
        out.reasons.append(f"match probability {p:.4f} (weight {w:.2f}) is {verdict} the threshold {threshold}")
        if guard:
            out.reasons.append(f"kept apart by the precision guard: {guard}")
    stored = state.latest_model(con, date.max)
    if stored is not None:
        con.execute(f"create or replace temp table __bz_explain as {match_input_sql(records, edges)}")
        out.comparison = matching.score_pair(con, stored[1], "__bz_explain", record_a, record_b)
        if out.comparison and not pair:
            p = out.comparison.get("match_probability")
            if not out.comparison.get("found_by_blocking_rules", True):
                out.reasons.append(f"never compared: no blocking rule puts them together (match probability "
                                   f"had they been compared: {p:.4f})")
            else:
                out.reasons.append(f"match probability {p:.4f} is too low to be kept as a candidate")
    return out

