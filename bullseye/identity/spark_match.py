"""Identity matching on Spark (issue 18): the stored match model scores candidate pairs with Splink's Spark
backend, and can be trained there too.

What runs where:
  - the records' features (``resolver.match_input_sql``, DuckDB SQL) are derived in DuckDB, as every night;
    the featured records go to Spark as a DataFrame over a Parquet copy (:func:`to_spark`);
  - :func:`match_on_spark` scores them with ``splink.SparkAPI``: the same blocking rules, comparisons, m/u,
    prior, term-frequency table, threshold and precision guard as ``matching.predict`` on DuckDB, the model's
    SQL rewritten for Spark (``matching.in_dialect``); it returns the same frame (unique_id_l, unique_id_r,
    match_weight, match_probability, guard);
  - :func:`train_on_spark`: the plan (column fill rates, pair counts) is made in DuckDB, Splink's training
    steps (prior, u by random sampling with a seed, EM per block) run on Spark;
  - clustering and stable ids stay in Python (``graph``, ``resolver._cluster``) on the returned pairs;
  - :class:`SparkScorer` is ``resolver.resolve``'s scorer hook on Spark: the Spark build's identity step
    (bullseye.spark_steps.run_identity_step) resolves a night with it, so its pairs are scored here.
damerau_levenshtein comes from the jar inside the splink package, which ``bullseye.config.spark_conf`` puts in
the session (``spark.jars``; SparkAPI registers its functions). Jaro-Winkler does not: the jar's counts otherwise
than DuckDB's, so the Spark levels call DuckDB's jaro_winkler_similarity through a pandas UDF
(:func:`duckdb_jaro_winkler`).

    python -m bullseye.identity.spark_match --warehouse W --as-of D [--compare]
scores the warehouse's identity records with its stored model on a local Spark session (Spark's files under
<home>/spark/identity) and, with --compare, also on DuckDB, and prints the differences.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from bullseye.identity import matching

# Splink's repartition after blocking: few cores, small nights (Spark's default would be 200 tasks).
PARTITIONS = 4


def spark_api(spark):
    """Splink's Spark backend on ``spark``; intermediate tables are persisted, not written to Parquet."""
    from pyspark.sql.functions import pandas_udf
    from splink import SparkAPI

    # size(NULL) is NULL, as len(NULL) on DuckDB (not -1): the list levels must judge a missing list alike
    spark.conf.set("spark.sql.legacy.sizeOfNull", "false")
    spark.udf.register(matching.SPARK_JARO_WINKLER, pandas_udf(duckdb_jaro_winkler, "double"))
    return SparkAPI(spark_session=spark, break_lineage_method="persist", num_partitions_on_repartition=PARTITIONS)


def duckdb_jaro_winkler(a: pd.Series, b: pd.Series) -> pd.Series:
    """DuckDB's jaro_winkler_similarity on a batch of pairs (a Spark pandas UDF): the function the model is
    scored with on DuckDB, so that a name pair reaches the same level on both engines."""
    frame = pd.DataFrame({"i": range(len(a)), "a": a.to_numpy(dtype=object), "b": b.to_numpy(dtype=object)})
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        got = con.execute("select jaro_winkler_similarity(a::varchar, b::varchar) as s from frame order by i").df()
    finally:
        con.close()
    return got["s"].astype("float64").set_axis(a.index)


def to_spark(spark, con: duckdb.DuckDBPyConnection, table: str):
    """A DuckDB table (the featured match input) as a Spark DataFrame over a Parquet copy in Spark's local dir.

    Not ``createDataFrame``: a local relation is copied into the plan of each blocking rule's join by Spark's
    optimizer, which ran out of the driver's heap on 11,523 records."""
    folder = Path(tempfile.mkdtemp(prefix="bz_identity_", dir=spark.conf.get("spark.local.dir", None)))
    con.execute(f"copy (select * from {table}) to '{folder / 'records.parquet'}' (format parquet)")
    return spark.read.parquet(str(folder))


def match_on_spark(spark, records, model: matching.MatchModel, threshold: float, new=None) -> pd.DataFrame:
    """``matching.predict`` on Spark: ``records`` (a Spark DataFrame of featured records) scored with
    ``model``; with ``new`` (the new records' DataFrame, a subset of ``records``), only pairs involving them."""
    api = spark_api(spark)
    if new is None:
        return matching.predict_on(api, model, records, threshold)
    existing = records.join(new.select("unique_id"), on="unique_id", how="left_anti")
    return matching.predict_on(api, model, records, threshold, (existing, new))


class SparkScorer:
    """resolver.resolve's ``scorer`` on Spark: ``matching.predict``'s arguments (the DuckDB connection holding the
    featured match input, model, table, threshold, new_table), the featured records sent to Spark
    (:func:`to_spark`) and scored by :func:`match_on_spark`. Counts what it did, for the step's message."""

    def __init__(self, spark) -> None:
        self.spark = spark
        self.calls = 0
        self.records_sent = 0
        self.pairs_returned = 0

    def __call__(self, con: duckdb.DuckDBPyConnection, model: matching.MatchModel, table: str, threshold: float,
                 new_table: str | None = None) -> pd.DataFrame:
        records = to_spark(self.spark, con, table)
        new = to_spark(self.spark, con, new_table) if new_table is not None else None
        pairs = match_on_spark(self.spark, records, model, threshold, new)
        self.calls += 1
        self.records_sent += con.execute(f"select count(*) from {new_table or table}").fetchall()[0][0]
        self.pairs_returned += len(pairs)
        return pairs


def train_on_spark(spark, con: duckdb.DuckDBPyConnection, table: str, seed: int = 1) -> matching.MatchModel:
    """``matching.train`` with Splink's training steps on Spark; the plan and the term frequencies are
    counted in DuckDB. The model is stored in DuckDB's dialect, as one trained there."""
    p = matching.plan(con, table)
    n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    settings = matching.fit(spark_api(spark), to_spark(spark, con, table), p, n, seed)
    return matching.with_frequencies(con, table, matching.in_dialect(settings, "duckdb"))


def compare_pairs(duck: pd.DataFrame, spark: pd.DataFrame, threshold: float) -> dict:
    """Pairs at or above ``threshold`` on each engine, and how scores and guards of common pairs differ."""
    key = ["unique_id_l", "unique_id_r"]
    d, s = (f[f.match_probability >= threshold] for f in (duck, spark))
    both = d.merge(s, on=key, suffixes=("_duckdb", "_spark"))
    guard_differs = both.guard_duckdb.fillna("") != both.guard_spark.fillna("")
    return {"pairs_duckdb": len(d), "pairs_spark": len(s), "pairs_both": len(both),
            "max_abs_weight_diff": float((both.match_weight_duckdb - both.match_weight_spark).abs().max())
            if len(both) else 0.0,
            "guards_differing": int(guard_differs.sum())}


def main(argv: list[str] | None = None) -> int:
    from bullseye.config import resolve_paths, spark_dir
    from bullseye.identity import resolver, state
    from bullseye.spark import session

    p = argparse.ArgumentParser(prog="python -m bullseye.identity.spark_match",
                                description="score the warehouse's identity records on Spark with the stored model")
    p.add_argument("--as-of", type=date.fromisoformat, required=True, help="the night (its stored match model)")
    p.add_argument("--warehouse", help="the DuckDB warehouse (default: the home's)")
    p.add_argument("--home", help="the home (default as bullseye run); Spark's files go under <home>/spark")
    p.add_argument("--records", default="int_identity__records", help="the identity records model (table name)")
    p.add_argument("--edges", default="int_identity__edges", help="the identity edges model (table name)")
    p.add_argument("--threshold", type=float, default=resolver.IdentityConfig().match_threshold)
    p.add_argument("--compare", action="store_true", help="score on DuckDB too and print the differences")
    p.add_argument("--out", help="write the Spark pairs to this Parquet file")
    args = p.parse_args(argv)
    home, warehouse = resolve_paths(args.home, args.warehouse)
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as w (read_only)")
    con.execute("use w")
    stored = state.latest_model(con, args.as_of)
    if stored is None:
        print(f"no match model stored for {args.as_of} or before", file=sys.stderr)
        return 1
    trained_on, model = stored
    records, edges = (_relation(con, name) for name in (args.records, args.edges))
    # the match input in the in-memory database (the warehouse stays read-only), which Splink then reads by name
    con.execute(f"create table memory.main.__bz_match_input as {resolver.match_input_sql(records, edges)}")
    con.execute("use memory")
    spark = session(spark_dir(home) / "identity")
    t = time.perf_counter()
    pairs = match_on_spark(spark, to_spark(spark, con, "__bz_match_input"), model, args.threshold)
    print(f"model trained on {trained_on}; Spark: {len(pairs):,} pairs at >= {args.threshold} "
          f"in {time.perf_counter() - t:.1f}s")
    if args.out:
        pairs.to_parquet(args.out)
    if args.compare:
        t = time.perf_counter()
        duck = matching.predict(con, model, "__bz_match_input", args.threshold)
        print(f"DuckDB: {len(duck):,} pairs in {time.perf_counter() - t:.1f}s;",
              compare_pairs(duck, pairs, args.threshold))
    return 0


def _relation(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """schema.table of a model by its table name, in whichever schema dbt built it."""
    found = con.execute("select table_schema from information_schema.tables where table_name = ? "
                        "order by table_schema limit 1", [name]).fetchall()
    if not found:
        raise SystemExit(f"no table {name} in the warehouse")
    return f'"{found[0][0]}"."{name}"'


if __name__ == "__main__":
    sys.exit(main())
