"""Pairwise precision and recall of an identity map against the demo generator's truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


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
