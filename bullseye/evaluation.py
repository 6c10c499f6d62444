"""Pairwise precision, recall and F1 of an identity map against a truth of who is who."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd


@dataclass
class PairScores:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall: one figure that neither merging everything
        (recall 1) nor linking nothing (precision 1) can raise on its own."""
        return f1_score(self.precision, self.recall)


def f1_score(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def pairwise_scores(con: duckdb.DuckDBPyConnection, truth_csv: Path,
                    identity_table: str = "marts.customer_identity_map") -> PairScores:
    """Count record pairs put together by the truth, by the map, and by both.

    Only records present in both are compared (a quarantined record has no cluster).
    Pairs are counted per cluster as n*(n-1)/2, so no pair list is materialized.
    """
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _both AS
        SELECT t.person_id, m.customer_id
        FROM read_csv('{truth_csv}', all_varchar = true) t
        JOIN {identity_table} m USING (source, source_record_id)""")
    pairs = "sum(n * (n - 1) / 2)"
    true_pairs = con.execute(f"SELECT {pairs} FROM (SELECT count(*) n FROM _both GROUP BY person_id)").fetchall()[0][0]
    pred = con.execute(f"SELECT {pairs} FROM (SELECT count(*) n FROM _both GROUP BY customer_id)").fetchall()[0][0]
    both = con.execute(f"SELECT {pairs} FROM (SELECT count(*) n FROM _both GROUP BY person_id, customer_id)"
                       ).fetchall()[0][0]
    return PairScores(int(true_pairs or 0), int(pred or 0), int(both or 0))


def recall_ceiling(con: duckdb.DuckDBPyConnection, truth_csv: Path, records: str, edges: str) -> float:
    """The best pairwise recall the evidence allows, whatever the resolver.

    An oracle links every named record of a person (as if matching were perfect) and
    lets a key tie records only when its named carriers are one true person. A record
    with no name (a web visitor) that only carries a phone two people share cannot be
    told apart by anyone: the generator plants such family phones, so recall against
    its truth has a ceiling below 1, and a resolver's recall is read against it.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    con.execute(f"""create or replace temp table __bz_oracle_rec as
        select t.person_id, r.name is not null as named, t.source, t.source_record_id,
               (row_number() over (order by t.source, t.source_record_id) - 1)::bigint as idx
        from read_csv('{truth_csv}', all_varchar = true) t join {records} r using (source, source_record_id)""")
    n = con.execute("select count(*) from __bz_oracle_rec").fetchall()[0][0]
    people = con.execute(f"""select idx, {n} + dense_rank() over (order by person_id) - 1 as node
        from __bz_oracle_rec where named""").fetchnumpy()
    keys = con.execute(f"""with e as (
            select r.idx, r.person_id, r.named, e.key_type || ':' || e.key_value as key
            from {edges} e join __bz_oracle_rec r using (source, source_record_id)
            where e.rule not in ('shared key: too many names', 'blocked: too many records')),
        one as (select key from e group by key having count(distinct person_id) filter (where named) <= 1)
        select idx, {2 * n} + dense_rank() over (order by key) - 1 as node
        from e semi join one using (key)""").fetchnumpy()
    a = np.r_[people["idx"], keys["idx"]].astype(np.int64)
    b = np.r_[people["node"], keys["node"]].astype(np.int64)
    size = int(b.max()) + 1 if len(b) else n
    _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(size, size)), directed=False)
    con.register("__bz_oracle_label", pd.DataFrame({"idx": np.arange(n), "label": label[:n]}))
    got = con.execute("""select sum(n * (n - 1) / 2) from (select count(*) n from __bz_oracle_rec
                         join __bz_oracle_label using (idx) group by person_id, label)""").fetchall()[0][0]
    true = con.execute("""select sum(n * (n - 1) / 2) from (select count(*) n from __bz_oracle_rec
                          group by person_id)""").fetchall()[0][0]
    con.unregister("__bz_oracle_label")
    return float(got or 0) / float(true) if true else 1.0
