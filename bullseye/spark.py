"""The dbt project on Apache Spark (issue 18, first slice): dbt-spark in session mode on a local Spark session.

What runs where:
  1. the night's DuckDB warehouse holds the raw tables the loader wrote (and the pipeline's state sources);
  2. :func:`export_sources` copies every source table of the dbt project to Parquet (``<spark dir>/sources/``),
     and :func:`register_sources` declares each as a Spark table of the same schema and name (raw.orders ...),
     so that ``source('sales', 'orders')`` names the same data on both engines;
  3. :func:`session` starts the local SparkSession (bullseye.config.spark_conf: local[2], 4 shuffle partitions,
     warehouse and Derby metastore under ``<spark dir>``) and registers the ``bz_*`` normalizers as Spark UDFs,
     the same Python functions the DuckDB plugin registers (bullseye.dbt_plugin);
  4. dbt runs in this process with ``--target spark`` ($BULLSEYE_DBT_TARGET): dbt-spark's session mode picks up
     the running session (SparkSession.builder.getOrCreate), so the UDFs and tables are there;
  5. dbt Python models, which dbt-spark's session mode cannot run, are steps of this build
     (bullseye.spark_steps): ``dbt ls`` resolves the selection, the selected nodes are cut into stages (one
     ``dbt build`` call per stage of SQL models and seeds; each Python model once its parents are built), and a
     Python model runs Spark-natively when bullseye.spark_steps.native_steps has it (the CLV summary and scores,
     bullseye.spark_clv), else on the driver: its inputs collected from Spark into DuckDB and its own
     ``model(dbt, session)`` run there, so its inputs must fit in the driver's memory. Each step is a NodeResult
     (status success, its message saying which kind ran) among dbt's. Identity resolution is a step too, as in the
     night (bullseye.spark_steps.run_identity_step): when the selection builds the identity inputs and reads
     identity state, it runs between them with its pairs scored on Splink's Spark backend and writes the identity
     sources (clusters, registry, journal) to Spark over the ones exported in 2. The snapshot
     (customer_segments_history) is not built on Spark (no Delta or Iceberg here): its table is carried over from
     the warehouse with the sources (:func:`snapshot_tables`), so kpi_monthly, which reads it, builds; a selection
     must exclude the snapshot itself.
A plain ``dbt build --target spark`` from a shell would start a session of its own without the UDFs: run it
through ``python -m bullseye.spark build``.

:func:`compare` counts each built model's rows and non-NULL values per column, and sums its numeric columns,
on Spark and in the DuckDB warehouse (same run date): what the port must keep equal.

Needs the optional extra: ``pip install -c constraints.txt -e '.[spark]'`` and Java 17.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from bullseye.config import DBT_TARGET_ENV, RunConfig, resolve_paths, spark_conf, spark_dir
from bullseye.transform import NodeResult, compile_manifest, dbt_list, run_dbt

# DuckDB types Parquet or Spark cannot carry as they are: exported as text (JSON and UUID are text to Spark)
# or as the nearest Spark type.
_EXPORT_CASTS = {"JSON": "VARCHAR", "UUID": "VARCHAR", "HUGEINT": "DECIMAL(38,0)", "UHUGEINT": "DECIMAL(38,0)"}


def session(root: Path):
    """The local SparkSession of the spark target, with the bz_* UDFs registered."""
    from pyspark.sql import SparkSession

    for sub in ("warehouse", "derby", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # Python UDFs run in worker processes: the same interpreter, and this checkout of bullseye
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_conf(root).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    register_udfs(spark)
    return spark


def register_udfs(spark) -> None:
    """The normalizers the staging models call, as Spark SQL functions (string -> string), NULL in, NULL out
    as the functions decide (the DuckDB plugin's null_handling="special"). bz_legal_basis is a SQL macro in
    the DuckDB warehouse (bullseye.ingest.licences.basis_macro_sql); on Spark the Python reading it mirrors."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StringType

    from bullseye.dbt_plugin import UDFS  # the same functions the DuckDB plugin registers
    from bullseye.ingest.licences import normalize_basis

    udfs = {**UDFS, "bz_legal_basis": normalize_basis}
    for name, fn in udfs.items():
        spark.udf.register(name, fn, StringType())
    for name, expression in DUCKDB_FUNCTIONS.items():
        spark.udf.register(name, pandas_udf(duckdb_batch(expression), "string"))


# DuckDB's own hash() and ln() on Spark (macros/cross_db.sql: duckdb_hash, duckdb_ln), so that the lookalike
# models' validation fold (drawn by hash) and scores (logs of rates) are the same to the last bit on both engines:
# Spark's hash() is another function (Murmur3, 32 bits), and the JVM's ln differs from DuckDB's by one unit in the
# last place on some values (72 of 589 scores at scale 0.1). DuckDB computes them, not a re-implementation: hash()
# is DuckDB's internal function and may change between its versions, and the DuckDB build changes with it.
# Text in, text out (the macros cast back): the hash as the decimal text of its UBIGINT, the log as text that
# reads back as the same DOUBLE.
DUCKDB_FUNCTIONS = {
    "bz_duckdb_hash": "cast(hash(cast(v as varchar)) as varchar)",
    "bz_duckdb_ln": "ln(try_cast(v as double))",
}


def duckdb_batch(expression: str):
    """A pandas UDF body: ``expression`` (over the column ``v``) evaluated by an in-memory DuckDB on a batch of
    values, one query per batch rather than per row; NULL stays NULL, a DOUBLE comes back as its repr. (pyspark
    reads the body's type hints from this module's globals: pandas is imported at the top for that.)"""

    def run(values: pd.Series) -> pd.Series:
        import duckdb

        frame = pd.DataFrame({"i": range(len(values)), "v": values.to_numpy(dtype=object)})
        con = duckdb.connect()
        try:
            con.register("frame", frame)
            rows = con.execute(f"select {expression} as r from frame order by i").fetchall()
        finally:
            con.close()
        return pd.Series([None if r is None else repr(r) if isinstance(r, float) else str(r) for (r,) in rows],
                         dtype=object)

    return run


def source_tables(manifest: Path) -> list[tuple[str, str]]:
    """(schema, table) of every source the dbt project declares."""
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
    return sorted({(s["schema"], s["identifier"]) for s in doc["sources"].values()})


def snapshot_tables(manifest: Path) -> list[tuple[str, str]]:
    """(schema, table) of every snapshot of the dbt project. dbt-spark builds a snapshot only on a table format with
    MERGE (Delta, Iceberg, Hudi), whose jars cannot be fetched here, so the Spark build does not build snapshots:
    it carries each one's table over from the DuckDB warehouse, as it does the sources (the snapshot is history
    kept between nights), and says so in its result; models reading a snapshot (kpi_monthly) then build on Spark."""
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
    return sorted({(n["schema"], n.get("alias") or n["name"]) for n in doc["nodes"].values()
                   if n["resource_type"] == "snapshot"})


def export_sources(warehouse: Path, out: Path, tables: list[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    """Copy each source table that exists in the warehouse to ``out/<schema>/<table>/data.parquet``."""
    import duckdb

    done: dict[tuple[str, str], Path] = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for schema, table in tables:
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table]).fetchall()
            if not cols:
                continue
            select = ", ".join(
                f'cast("{c}" as {_EXPORT_CASTS[t]}) as "{c}"' if t in _EXPORT_CASTS else f'"{c}"' for c, t in cols)
            folder = out / schema / table
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / "data.parquet"
            con.execute(f"copy (select {select} from \"{schema}\".\"{table}\") to '{target}' (format parquet)")
            done[(schema, table)] = folder
    finally:
        con.close()
    return done


def register_sources(spark, exported: dict[tuple[str, str], Path]) -> None:
    """Declare each exported table as a Spark table of the same schema and name, over its Parquet folder."""
    for (schema, table), folder in sorted(exported.items()):
        spark.sql(f"create database if not exists `{schema}`")
        spark.sql(f"drop table if exists `{schema}`.`{table}`")
        spark.sql(f"create table `{schema}`.`{table}` using parquet location '{folder}'")


@dataclass
class Comparison:
    relation: str
    spark_rows: int | None
    duckdb_rows: int | None
    columns_differing: list[str]

    @property
    def equal(self) -> bool:
        return self.spark_rows == self.duckdb_rows and not self.columns_differing


def _profile_sql(relation: str, columns: list[tuple[str, bool]], quote: str) -> str:
    parts = ["count(*)"]
    for name, numeric in columns:
        q = f"{quote}{name}{quote}"
        parts.append(f"count({q})")
        # sums rounded to the cent: money columns are DECIMAL(18,2) on both; doubles are compared to 1e-6
        parts.append(f"round(cast(sum({q}) as double), 6)" if numeric else "null")
    return f"select {', '.join(parts)} from {relation}"


def compare(spark, warehouse: Path, relations: list[str]) -> list[Comparison]:
    """For each schema.table: rows, non-NULL values per column and sums of numeric columns, on both engines."""
    import duckdb

    out = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for rel in relations:
            schema, table = rel.split(".")
            fields = spark.table(rel).schema.fields
            numeric_types = ("int", "bigint", "smallint", "tinyint", "double", "float")
            cols = [(f.name, f.dataType.simpleString() in numeric_types
                     or f.dataType.simpleString().startswith("decimal")) for f in fields]
            s = spark.sql(_profile_sql(f"`{schema}`.`{table}`", cols, "`")).collect()[0]
            try:
                d = con.execute(_profile_sql(f'"{schema}"."{table}"', cols, '"')).fetchone()
            except duckdb.Error:
                out.append(Comparison(rel, s[0], None, ["(no such table in DuckDB)"]))
                continue
            differing = []
            for i, (name, numeric) in enumerate(cols):
                sn, dn = s[1 + 2 * i], d[1 + 2 * i]
                ss, ds = s[2 + 2 * i], d[2 + 2 * i]
                if sn != dn:
                    differing.append(f"{name}: non-null {sn} vs {dn}")
                elif numeric and not (ss == ds or (ss is not None and ds is not None
                                                   and abs(float(ss) - float(ds)) <= 1e-6 * max(1.0, abs(float(ds))))):
                    differing.append(f"{name}: sum {ss} vs {ds}")
            out.append(Comparison(rel, s[0], d[0], differing))
    finally:
        con.close()
    return out


def query_both(spark, warehouse: Path, sql: str) -> tuple[list[tuple], list[tuple]]:
    """The rows of one SQL text on Spark and in the DuckDB warehouse (read-only), as tuples, in no set order.

    For checks finer than :func:`compare`'s counts and sums (tests/test_spark_parity.py: the sets of customer
    ids, the counts per segment, DECIMAL sums to the cent): write ``sql`` in the dialect both engines read
    (unquoted ``schema.table`` names, standard functions); compare the rows as sets or multisets (the engines
    put NULLs at different ends of an ORDER BY)."""
    import duckdb

    spark_rows = [tuple(r) for r in spark.sql(sql).collect()]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        duckdb_rows = [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()
    return spark_rows, duckdb_rows


def built_relations(nodes: list[NodeResult], manifest: Path) -> list[str]:
    """schema.table of each model the build ran successfully."""
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))["nodes"]
    ok = {n.name for n in nodes if n.resource_type == "model" and n.status == "success"}
    return sorted(f'{n["schema"]}.{n.get("alias") or n["name"]}' for n in doc.values()
                  if n["resource_type"] == "model" and n["name"] in ok)


def build(warehouse: Path, home: Path, as_of: date, select: list[str], *extra: str) -> dict:
    """Export the warehouse's sources, start the session, build the selection on Spark.

    A selection without dbt Python models is one ``dbt build --target spark --select ...``. With Python models,
    the build is staged (bullseye.spark_steps.plan_stages): one dbt call per stage of SQL models and seeds, each
    Python model as a step of bullseye's own once its parents are built (Spark-native, else on the driver). The
    stages' dbt calls select the stage's nodes by name, with ``--indirect-selection cautious`` unless ``extra``
    says otherwise: a test reaching into a later stage would fail for want of its table. The tests of the
    Python models' own relations do not run on Spark (the DuckDB night runs them)."""
    root = spark_dir(home)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    manifest = compile_manifest(root / "parse")
    exported = export_sources(warehouse, root / "sources", source_tables(manifest))
    carried = export_sources(warehouse, root / "snapshots", snapshot_tables(manifest))
    timings["export_sources_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    spark = session(root)
    register_sources(spark, {**exported, **carried})
    timings["session_and_sources_s"] = round(time.perf_counter() - t, 1)
    # dbt's target and logs of the Spark run go under the spark dir: the DuckDB run's own are left alone
    cfg = RunConfig(landing=root, warehouse=warehouse, as_of=as_of, home=root)
    saved = os.environ.get(DBT_TARGET_ENV)
    os.environ[DBT_TARGET_ENV] = "spark"
    try:
        nodes, stages = _run_stages(spark, cfg, root, select, list(extra), timings)
    finally:
        if saved is None:
            os.environ.pop(DBT_TARGET_ENV, None)
        else:
            os.environ[DBT_TARGET_ENV] = saved
    return {"spark": spark, "nodes": nodes, "manifest": cfg.dbt_target / "manifest.json", "timings": timings,
            "sources": len(exported), "stages": stages,
            "snapshots_carried_over": sorted(f"{schema}.{table}" for schema, table in carried)}


def _run_stages(spark, cfg: RunConfig, root: Path, select: list[str], extra: list[str],
                timings: dict[str, float]) -> tuple[list[NodeResult], list[dict]]:
    """Plan the stages from the spark target's manifest (dbt ls) and run them; the node results in build order
    and, per stage, its kind, node count and seconds."""
    from bullseye.spark_steps import identity_step, plan_stages, read_nodes, run_identity_step, run_python_step

    t = time.perf_counter()
    selected = dbt_list(cfg, "--select", *select, *extra)
    graph = read_nodes(cfg.dbt_target / "manifest.json")
    stages = plan_stages(graph, selected)
    step, not_run = identity_step(graph, selected)
    timings["plan_s"] = round(time.perf_counter() - t, 1)
    # the selection reads identity state it cannot resolve on Spark: its nodes read the warehouse's, and say so
    skipped = [NodeResult("identity", "step", "skipped", not_run, 0.0)] if not_run else []
    if not any(s.kind == "python" for s in stages):
        t = time.perf_counter()
        nodes = run_dbt(cfg, "build", "--select", *select, *extra)
        timings["dbt_build_s"] = round(time.perf_counter() - t, 1)
        return skipped + nodes, [{"kind": "dbt", "nodes": sum(len(s.nodes) for s in stages),
                                  "seconds": timings["dbt_build_s"]}]
    stage_extra = extra if "--indirect-selection" in extra else [*extra, "--indirect-selection", "cautious"]
    nodes: list[NodeResult] = list(skipped)
    done: list[dict] = []
    for stage in stages:
        t = time.perf_counter()
        if stage.kind == "dbt":
            nodes += run_dbt(cfg, "build", "--select", *(graph[u].name for u in stage.nodes), *stage_extra)
        else:
            nodes += [run_identity_step(spark, step, graph, root / "python_models", cfg.warehouse, cfg.as_of)
                      if step is not None and u == step.unique_id
                      else run_python_step(spark, graph[u], graph, root / "python_models", cfg.as_of)
                      for u in stage.nodes]
        done.append({"kind": stage.kind, "nodes": len(stage.nodes), "seconds": round(time.perf_counter() - t, 1)})
    timings["dbt_build_s"] = round(sum(s["seconds"] for s in done if s["kind"] == "dbt"), 1)
    timings["python_steps_s"] = round(sum(s["seconds"] for s in done if s["kind"] == "python"), 1)
    return nodes, done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bullseye.spark",
                                description="build dbt models on a local Spark session (dbt-spark, session mode)")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="dbt build --target spark of a selection, on the warehouse's sources")
    b.add_argument("--as-of", type=date.fromisoformat, required=True, help="run date YYYY-MM-DD (the night's)")
    b.add_argument("--warehouse", help="the DuckDB warehouse whose sources are read (default: the home's)")
    b.add_argument("--home", help="the home (default as bullseye run); Spark's files go under <home>/spark")
    b.add_argument("-s", "--select", nargs="+", default=["staging"], help="dbt selection (default: staging)")
    b.add_argument("--exclude-resource-type", nargs="*", default=[], help="e.g. unit_test")
    b.add_argument("--indirect-selection", choices=["eager", "cautious", "buildable", "empty"],
                   help="dbt's: which tests of the selected models run; cautious leaves out a test that also "
                        "reads a model not built (a relationships test to a mart behind a Python model)")
    b.add_argument("--compare", action="store_true", help="compare each built model with the warehouse's")
    b.add_argument("--json", help="write the results to this file")
    args = p.parse_args(argv)
    home, warehouse = resolve_paths(args.home, args.warehouse)
    extra = ["--exclude-resource-type", *args.exclude_resource_type] if args.exclude_resource_type else []
    if args.indirect_selection:
        extra += ["--indirect-selection", args.indirect_selection]
    res = build(warehouse, home, args.as_of, args.select, *extra)
    report: dict = {"as_of": args.as_of.isoformat(), "select": args.select, "sources": res["sources"],
                    "snapshots_carried_over": res["snapshots_carried_over"],
                    "timings": res["timings"], "stages": res["stages"], "nodes": [asdict(n) for n in res["nodes"]]}
    for n in res["nodes"]:
        print(f"{n.resource_type:10} {n.name:60} {n.status:8} {n.seconds:6.1f}s {n.message}")
    for i, st in enumerate(res["stages"], 1):
        print(f"stage {i}: {st['kind']:6} {st['nodes']:3} nodes {st['seconds']:6.1f}s")
    print(f"sources exported: {res['sources']}; " + ", ".join(f"{k} {v}" for k, v in res["timings"].items()))
    if res["snapshots_carried_over"]:
        print("snapshots not built on Spark (no table format with MERGE here), carried over from the DuckDB "
              "warehouse: " + ", ".join(res["snapshots_carried_over"]) + " (exclude them from the selection)")
    if args.compare:
        rows = compare(res["spark"], warehouse, built_relations(res["nodes"], res["manifest"]))
        report["comparison"] = [{**asdict(c), "equal": c.equal} for c in rows]
        print(f"{'relation':45} {'spark rows':>11} {'duckdb rows':>11}  equal")
        for c in rows:
            print(f"{c.relation:45} {c.spark_rows!s:>11} {c.duckdb_rows!s:>11}  {c.equal}"
                  + (f"  ({'; '.join(c.columns_differing)})" if c.columns_differing else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
