"""Identity matching on Spark (bullseye.identity.spark_match) scores as on DuckDB.

Records from the independent corpus generator (tests/linkage_corpus.py: Latin names with cards and postcodes,
Hanzi names), plus hand-made edge cases, are featured and the model trained once on DuckDB; the same records
are then scored with the same stored model on DuckDB (matching.predict) and on Splink's Spark backend
(local[1]), and the pairs, weights, guards and the resolver's clusters of both are compared.
"""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from bullseye.identity import matching, resolver, state  # noqa: E402
from tests.identity_kit import corpus_rows, load, rec  # noqa: E402
from tests.linkage_corpus import make_corpus  # noqa: E402

THRESHOLD = resolver.IdentityConfig().match_threshold
FLOOR = min(THRESHOLD, 0.5)  # what the resolver scores at (near misses kept)
# Measured: 7.1e-15 at most between the engines on a 1,352-record Hanzi corpus (the same arithmetic, in
# another order of operations on Spark).
WEIGHT_TOLERANCE = 1e-9
KEY = ["unique_id_l", "unique_id_r"]

EDGE_CASES = [
    # NULL fields: a record with a name only, and one with a name and a birth date only
    rec("crm_customers", "edge:name-only", "Siobhan O'Neill"),
    rec("crm_customers", "edge:name-birth", "Siobhan O'Neill", "1984-06-12"),
    # an apostrophe, and the same person with the name typed without it
    rec("crm_customers", "edge:apos1", "Siobhan O'Neill", "1984-06-12", city="Dublin", address="12 Harbour Road",
        postcode="D02 X285"),
    rec("crm_customers", "edge:apos2", "Siobhan ONeill", "1984-06-12", city="Dublin", address="12 Harbour Rd",
        postcode="D02X285"),
    # traditional and simplified characters of one name, same birth date and address
    rec("crm_customers", "edge:trad", "張偉明", "1979-11-03", city="广州市", address="体育西路123号"),
    rec("crm_customers", "edge:simp", "张伟明", "1979-11-03", city="广州市", address="体育西路123号"),
    # an exact duplicate under two record ids
    rec("crm_customers", "edge:dup1", "Marta Núñez-Ortega", "1991-02-28", city="Madrid",
        address="Calle Mayor 7, Centro", member_card="MC-99812", postcode="28013"),
    rec("crm_customers", "edge:dup2", "Marta Núñez-Ortega", "1991-02-28", city="Madrid",
        address="Calle Mayor 7, Centro", member_card="MC-99812", postcode="28013"),
]


def _rows() -> list[dict]:
    latin = corpus_rows(make_corpus(220, script="latin", seed=31, member_card=True, postcode=True).records)
    hanzi = corpus_rows(make_corpus(180, script="hanzi", seed=32).records)
    for r in hanzi:  # two corpora: keep record ids apart
        r["source_record_id"] = "h" + r["source_record_id"]
    return latin + hanzi + EDGE_CASES


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from bullseye.spark import session

    saved = os.environ.get("BULLSEYE_SPARK_MASTER")
    os.environ["BULLSEYE_SPARK_MASTER"] = "local[1]"
    spark = session(tmp_path_factory.mktemp("spark"))
    yield spark
    spark.stop()
    if saved is None:
        os.environ.pop("BULLSEYE_SPARK_MASTER", None)
    else:
        os.environ["BULLSEYE_SPARK_MASTER"] = saved


@pytest.fixture(scope="module")
def scored(spark):
    from bullseye.identity import spark_match

    con = duckdb.connect()
    load(con, _rows())
    con.execute(f"create table mi as {resolver.match_input_sql('recs', 'edg')}")
    model = matching.train(con, "mi")
    duck = matching.predict(con, model, "mi", FLOOR)
    sp = spark_match.match_on_spark(spark, spark_match.to_spark(spark, con, "mi"), model, FLOOR)
    yield con, model, duck, sp
    con.close()


def _above(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(map(tuple, frame.loc[frame.match_probability >= THRESHOLD, KEY].to_numpy()))


def test_the_same_pairs_weights_and_guards(scored):
    con, model, duck, sp = scored
    assert len(duck) > 100 and model.settings["bullseye_plan"]["comparisons"][:1] == ["name"]
    assert _above(duck) == _above(sp)
    assert set(map(tuple, duck[KEY].to_numpy())) == set(map(tuple, sp[KEY].to_numpy()))
    both = duck.merge(sp, on=KEY, suffixes=("_d", "_s"))
    assert (both.match_weight_d - both.match_weight_s).abs().max() <= WEIGHT_TOLERANCE
    assert (both.match_probability_d - both.match_probability_s).abs().max() <= WEIGHT_TOLERANCE
    assert (both.guard_d.fillna("-") == both.guard_s.fillna("-")).all()


def test_edge_cases_are_scored_alike(scored):
    _, _, duck, sp = scored
    for a, b in [("edge:dup1", "edge:dup2"), ("edge:trad", "edge:simp"), ("edge:apos1", "edge:apos2")]:
        pair = tuple(sorted((f"crm_customers|{a}", f"crm_customers|{b}")))
        assert pair in _above(duck) and pair in _above(sp), pair
    edge = [f"crm_customers|{r['source_record_id']}" for r in EDGE_CASES]
    d, s = (f[f.unique_id_l.isin(edge) | f.unique_id_r.isin(edge)].sort_values(KEY).reset_index(drop=True)
            for f in (duck, sp))
    assert len(d) >= 3
    assert d[KEY].equals(s[KEY])
    assert (d.match_weight - s.match_weight).abs().max() <= WEIGHT_TOLERANCE


def test_the_resolver_clusters_alike(scored):
    con, _, duck, sp = scored
    state.ensure(con)
    none = pd.DataFrame(columns=["a", "b"])
    labels = []
    for pairs in (duck, sp):
        con.execute("delete from identity.match_edges")
        state.append(con, "match_edges", pairs)
        out, _ = resolver._cluster(con, "recs", "edg", THRESHOLD, none, none)
        labels.append(out.set_index("record")["label"])
    d, s = labels
    assert d.index.equals(s.index)
    # one partition: each DuckDB cluster is exactly one Spark cluster
    assert pd.crosstab(d, s).astype(bool).sum(axis=1).eq(1).all()
    assert d.nunique() == s.nunique() < len(d)


def test_resolve_with_the_spark_scorer_is_the_duckdb_resolution(scored, spark):
    """resolver.resolve's ``scorer`` hook (what the Spark build's identity step passes): the same night resolved
    with the stored model, its pairs scored by DuckDB (the default) and by SparkScorer, gives the same customer ids
    (ids are minted from the clusters, so equal ids mean equal clusters) and the same match edges."""
    from datetime import date

    from bullseye.identity.spark_match import SparkScorer

    _, model, duck, _ = scored
    spark_scorer = SparkScorer(spark)
    nights = []
    for scorer in (None, spark_scorer):
        con = duckdb.connect()
        try:
            load(con, _rows())
            state.ensure(con)
            state.save_model(con, model, date(2026, 11, 1), len(duck))
            night = resolver.resolve(con, "recs", "edg", date(2026, 11, 24), resolver.IdentityConfig(mode="full"),
                                     scorer=scorer)
            nights.append(night)
        finally:
            con.close()
    on_duckdb, on_spark = nights
    assert spark_scorer.calls == 1 and spark_scorer.pairs_returned == len(duck)
    assert on_spark.run["mode"] == on_duckdb.run["mode"] == "full"
    assert on_spark.run["match_edges"] == on_duckdb.run["match_edges"] > 0
    cols = ["source", "source_record_id", "customer_id", "match_rule"]
    assert on_spark.records[cols].equals(on_duckdb.records[cols])
