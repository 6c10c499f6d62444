"""dbt Python models as explicit pipeline steps of the Spark build (issue 18): dbt-spark's session mode cannot run a
Python model, so :func:`bullseye.spark.build` runs each one itself, between dbt-on-Spark calls.

The plan (:func:`plan_stages`): the selected models and seeds, in the manifest's order, cut into stages: as many
SQL nodes as have all their selected Python parents built go to one ``dbt build`` call; then every Python model
whose selected parents are built runs as a step; and so on. A selection without Python models is one dbt call,
as before.

A step is one of two kinds:

- **Spark-native** (:data:`NATIVE`): the model computed with Spark DataFrame operations, the same result as its
  dbt Python model. ``int_customer__clv_summary`` (the per-customer summary of the purchase days) and
  ``int_customer__clv`` (scoring with the fitted parameters, ``bullseye.clv.score`` in ``mapInPandas`` on the
  executors) are; so only one row per customer reaches the driver, for the fit (``int_customer__clv_params``).
- **generic, on the driver** (:func:`run_generic`): the model's inputs (its refs and sources) are collected from
  Spark (``DataFrame.toArrow()``) into an in-process DuckDB connection, and the model file's own
  ``model(dbt, session)`` runs with a ``dbt`` object shaped like dbt-duckdb's (:class:`DbtShim`) and that
  connection as ``session``. This is no distributed computation: every input must fit in the driver's memory,
  as it must in the DuckDB night. It keeps the model's code the one definition on both engines.

The identity step (:func:`run_identity_step`) is the night's (bullseye.identity.step.run_identity), planned as a
pseudo-node (:func:`identity_step`, :data:`IDENTITY_STEP`) when the selection reads identity state and builds the
identity inputs: after the stage that built int_identity__records, int_identity__edges and the identity_overrides
seed, before every node reading an ``identity`` source. It runs on the driver over a DuckDB copy of the warehouse's
identity state and the inputs collected from Spark, its candidate pairs scored on Spark (resolver.resolve's
``scorer``: bullseye.identity.spark_match.SparkScorer), and writes identity.clusters, registry and journal to Spark
in place of the copies exported from the warehouse. A selection reading identity state without the inputs gets a
"skipped" result saying so.

The result (a pandas DataFrame or a DuckDB relation) is written as Parquet under ``<spark dir>/python_models/``
and declared as the Spark table dbt-spark would have made (the node's schema and alias), with DuckDB's column types
(DECIMAL stays DECIMAL, DATE a date, lists arrays; a column of DuckDB's NULL type becomes a string column of
NULLs). A step that fails stops the build with a :class:`bullseye.transform.TransformError` naming the model;
there is no fallback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from bullseye.config import DBT_PROJECT_DIR, RUN_DATE_ENV
from bullseye.transform import NodeResult, TransformError

BUILDABLE = ("model", "seed", "snapshot")
# DuckDB types Parquet or Spark cannot carry as they are (bullseye.spark._EXPORT_CASTS, and NULL: a column the
# model filled with None only; on Spark a string column of NULLs)
_RESULT_CASTS = {"JSON": "VARCHAR", "UUID": "VARCHAR", "HUGEINT": "DECIMAL(38,0)", "UHUGEINT": "DECIMAL(38,0)",
                 '"NULL"': "VARCHAR", "NULL": "VARCHAR"}


@dataclass(frozen=True)
class Node:
    """What the Spark build needs of one manifest node (a model, seed, snapshot or source)."""

    unique_id: str
    name: str
    resource_type: str
    language: str
    schema: str
    identifier: str  # the relation's name: a model's alias, a source's identifier
    path: str = ""  # original_file_path, relative to the dbt project
    parents: tuple[str, ...] = ()
    config: dict = field(default_factory=dict, compare=False, hash=False)
    source_name: str = ""

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.identifier}"

    @property
    def is_python(self) -> bool:
        return self.resource_type == "model" and self.language == "python"


def read_nodes(manifest: Path) -> dict[str, Node]:
    """Every model, seed, snapshot and source of a manifest written with ``--target spark`` (so that each
    schema is the one dbt-spark builds in)."""
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
    out: dict[str, Node] = {}
    for uid, n in doc["nodes"].items():
        if n["resource_type"] not in BUILDABLE:
            continue
        out[uid] = Node(uid, n["name"], n["resource_type"], n.get("language") or "sql", n["schema"],
                        n.get("alias") or n["name"], n.get("original_file_path", ""),
                        tuple(n.get("depends_on", {}).get("nodes", [])), n.get("config", {}))
    for uid, s in doc["sources"].items():
        out[uid] = Node(uid, s["name"], "source", "sql", s["schema"], s.get("identifier") or s["name"],
                        source_name=s["source_name"])
    return out


@dataclass(frozen=True)
class Stage:
    """One dbt call over SQL nodes (kind "dbt") or Python models run one after the other (kind "python")."""

    kind: str
    nodes: tuple[str, ...]


# The identity step as a pseudo-node of the plan: the identity sources (identity.clusters, .registry, .journal) are
# its outputs, the identity inputs its parents (bullseye.identity.step, as the night runs it between dbt calls).
IDENTITY_STEP = "step.bullseye.identity"
IDENTITY_SOURCE = "identity"  # the dbt source the step writes (dbt_project/models/staging/_sources.yml)
# bullseye.identity.step's RECORDS_MODEL, EDGES_MODEL, OVERRIDES_SEED (not imported: planning needs no Splink)
IDENTITY_INPUTS = (("model", "int_identity__records"), ("model", "int_identity__edges"),
                   ("seed", "identity_overrides"))


def identity_sources(nodes: dict[str, Node]) -> set[str]:
    """The unique ids of the ``identity`` sources (the state the identity step writes and models read)."""
    return {u for u, n in nodes.items() if n.resource_type == "source" and n.source_name == IDENTITY_SOURCE}


def identity_step(nodes: dict[str, Node], selected: list[str]) -> tuple[Node | None, str | None]:
    """The identity step's pseudo-node when the selection both reads identity state (a selected node has an
    ``identity`` source as parent) and builds the identity inputs (records, edges, overrides seed); its parents
    are the inputs. Otherwise None, and why when identity state is read (those nodes then read the identity
    tables exported from the DuckDB warehouse: the build must say so); None, None when nothing reads it."""
    chosen = {u for u in selected if u in nodes and nodes[u].resource_type in BUILDABLE}
    sources = identity_sources(nodes)
    readers = sorted(nodes[u].name for u in chosen if sources & set(nodes[u].parents))
    if not readers:
        return None, None
    by_name = {(n.resource_type, n.name): u for u, n in nodes.items()}
    inputs = [by_name.get(key) for key in IDENTITY_INPUTS]
    missing = [name for (_, name), u in zip(IDENTITY_INPUTS, inputs, strict=True) if u is None or u not in chosen]
    if missing:
        return None, (f"identity step not run: {', '.join(readers)} read identity state but the selection does not "
                      f"build {', '.join(missing)}; they read the identity tables copied from the DuckDB warehouse")
    return Node(IDENTITY_STEP, "identity", "step", "python", IDENTITY_SOURCE, "step",
                parents=tuple(u for u in inputs if u is not None)), None


def plan_stages(nodes: dict[str, Node], selected: list[str]) -> list[Stage]:
    """The selected buildable nodes in stages: each dbt stage holds every SQL node whose selected parents are
    built or in the same stage (dbt orders them), each Python stage every Python model whose selected parents are
    built, in dependency order. Parents outside the selection are taken as built already, as dbt does.

    When :func:`identity_step` plans it, the identity step (:data:`IDENTITY_STEP`) is a driver step of a Python
    stage after its inputs are built, and each node reading an identity source waits for it."""
    chosen = [u for u in selected if u in nodes and nodes[u].resource_type in BUILDABLE]
    step, _ = identity_step(nodes, selected)
    if step is not None:
        sources = identity_sources(nodes)
        nodes = {**nodes, step.unique_id: step}
        for u in chosen:
            if sources & set(nodes[u].parents):
                nodes[u] = replace(nodes[u], parents=(*nodes[u].parents, step.unique_id))
        chosen.append(step.unique_id)
    pending, done, stages = set(chosen), set(), []
    order = {u: i for i, u in enumerate(chosen)}
    while pending:
        sql = _ready(nodes, pending, done, python=False)
        if sql:
            stages.append(Stage("dbt", tuple(sorted(sql, key=order.get))))
            done |= sql
            pending -= sql
        py = _ready(nodes, pending, done, python=True)
        if py:
            stages.append(Stage("python", tuple(_topological(nodes, py, order))))
            done |= py
            pending -= py
        if not sql and not py:
            raise TransformError("no order builds these nodes (a cycle?): " + ", ".join(sorted(pending)))
    return stages


def _ready(nodes: dict[str, Node], pending: set[str], done: set[str], python: bool) -> set[str]:
    """The pending nodes of one language whose pending parents are all of that language and ready too."""
    ready = {u for u in pending if _on_driver(nodes[u]) == python}
    changed = True
    while changed:  # drop a node with a parent that is neither built nor ready, until nothing changes
        blocked = {u for u in ready if any(p in pending and p not in ready for p in nodes[u].parents)}
        ready -= blocked
        changed = bool(blocked)
    return ready


def _on_driver(node: Node) -> bool:
    """A Python model or the identity step: run by this build, not by a dbt call."""
    return node.is_python or node.unique_id == IDENTITY_STEP


def _topological(nodes: dict[str, Node], group: set[str], order: dict[str, int]) -> list[str]:
    """``group`` with each node after its parents in the group (the selection's order among equals)."""
    out: list[str] = []
    left = sorted(group, key=order.get)
    while left:
        nxt = next(u for u in left if not any(p in left for p in nodes[u].parents))
        out.append(nxt)
        left.remove(nxt)
    return out


# --------------------------------------------------------------------------- the generic step (driver)
class _Config:
    """``dbt.config`` of a dbt-duckdb Python model: callable (the model's ``dbt.config(materialized=...)``, which
    the manifest already holds) and ``get(key)``, the node's rendered config value, as dbt-core's generated
    ``config_dict`` gives it (strings as rendered: ``"50"`` for min_customers; ``""`` for as_of, which the parse
    leaves empty and bullseye.config.run_date then reads from $BULLSEYE_RUN_DATE)."""

    def __init__(self, values: dict):
        self._values = values

    def __call__(self, *args, **kwargs) -> None:
        return None

    def get(self, key: str, default=None):
        return self._values.get(key, default)


class DbtShim:
    """The ``dbt`` argument of a Python model, as dbt-duckdb builds it: ``ref``/``source`` give DuckDB relations
    (here over the inputs collected from Spark into ``con``), ``config``, ``this``, ``is_incremental``."""

    def __init__(self, con, node: Node, nodes: dict[str, Node]):
        self._con = con
        self._refs = {nodes[p].name: nodes[p] for p in node.parents if nodes[p].resource_type != "source"}
        self._sources = {(nodes[p].source_name, nodes[p].name): nodes[p] for p in node.parents
                         if nodes[p].resource_type == "source"}
        self.config = _Config(node.config)
        self.this = node.relation
        self.is_incremental = False

    def ref(self, *args: str, **kwargs):
        name = args[-1]  # ref('package', 'model') or ref('model'); version= is not used by this project
        if name not in self._refs:
            raise TransformError(f"ref({name!r}) is not among the model's parents in the manifest")
        return self._con.table(_duck_name(self._refs[name]))

    def source(self, source_name: str, table_name: str):
        if (source_name, table_name) not in self._sources:
            raise TransformError(f"source({source_name!r}, {table_name!r}) is not among the model's parents")
        return self._con.table(_duck_name(self._sources[source_name, table_name]))


def _duck_name(node: Node) -> str:
    return f'"{node.schema}"."{node.identifier}"'


def collect_inputs(spark, con, node: Node, nodes: dict[str, Node]) -> int:
    """Copy each of the node's parents from Spark into ``con`` as a table of the same schema and name, through
    Arrow (``DataFrame.toArrow``, pyspark 4): the whole input on the driver. Returns the rows copied."""
    rows = 0
    for uid in node.parents:
        parent = nodes[uid]
        table = spark.table(f"`{parent.schema}`.`{parent.identifier}`").toArrow()
        con.execute(f'create schema if not exists "{parent.schema}"')
        con.register("_bz_input", table)
        try:
            con.execute(f"create or replace table {_duck_name(parent)} as select * from _bz_input")
        finally:
            con.unregister("_bz_input")
        rows += table.num_rows
    return rows


def load_model_function(node: Node) -> Callable:
    """The model file's ``model(dbt, session)`` (path from the manifest), imported as its own module."""
    path = DBT_PROJECT_DIR / node.path
    spec = importlib.util.spec_from_file_location(f"_bz_dbt_python_model_{node.name}", path)
    if spec is None or spec.loader is None:
        raise TransformError(f"{node.name}: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


def run_generic(spark, node: Node, nodes: dict[str, Node], out_dir: Path, as_of: date) -> str:
    """Run the model's own code on the driver against its inputs collected from Spark; write its result to the
    node's Spark relation. Returns the step's message."""
    import duckdb

    from bullseye.dbt_plugin import register_udfs

    con = duckdb.connect()
    saved = os.environ.get(RUN_DATE_ENV)
    os.environ[RUN_DATE_ENV] = as_of.isoformat()  # as bullseye.transform gives it to dbt
    try:
        register_udfs(con)  # the bz_* functions dbt-duckdb's plugin registers on its connections
        rows_in = collect_inputs(spark, con, node, nodes)
        result = load_model_function(node)(DbtShim(con, node, nodes), con)
        rows_out = write_duckdb_result(spark, con, result, node, out_dir)
    finally:
        con.close()
        if saved is None:
            os.environ.pop(RUN_DATE_ENV, None)
        else:
            os.environ[RUN_DATE_ENV] = saved
    return f"python step on the driver: {rows_in} input rows collected from Spark, {rows_out} rows written"


def write_duckdb_result(spark, con, result, node: Node, out_dir: Path) -> int:
    """Write a model's result (pandas DataFrame or DuckDB relation) as Parquet, with DuckDB's column types, and
    declare it as the node's Spark table. Returns its rows."""
    import duckdb
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        con.register("_bz_result_df", result)
        con.execute("create or replace table _bz_result as select * from _bz_result_df")
        con.unregister("_bz_result_df")
    elif isinstance(result, duckdb.DuckDBPyRelation):
        result.create("_bz_result")
    else:
        raise TransformError(f"{node.name}: model() returned {type(result).__name__}, not a DataFrame or relation")
    cols = con.execute("select column_name, data_type from information_schema.columns "
                       "where table_name = '_bz_result' order by ordinal_position").fetchall()
    select = ", ".join(f'cast("{c}" as {_RESULT_CASTS[t]}) as "{c}"' if t in _RESULT_CASTS else f'"{c}"'
                       for c, t in cols)
    folder = _fresh_folder(out_dir, node)
    con.execute(f"copy (select {select} from _bz_result) to '{folder / 'data.parquet'}' (format parquet)")
    (rows,) = con.execute("select count(*) from _bz_result").fetchall()[0]
    declare_table(spark, node, folder)
    return int(rows)


def _fresh_folder(out_dir: Path, node: Node) -> Path:
    import shutil

    folder = out_dir / node.schema / node.identifier
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def declare_table(spark, node: Node, folder: Path) -> None:
    """The node's relation as a Spark table over the Parquet folder, in place of whatever had the name."""
    name = f"`{node.schema}`.`{node.identifier}`"
    spark.sql(f"create database if not exists `{node.schema}`")
    if spark.catalog.tableExists(f"{node.schema}.{node.identifier}"):
        # Spark 4 refuses DROP VIEW on a table and DROP TABLE on a view: drop what is there (an earlier build's)
        kind = spark.catalog.getTable(f"{node.schema}.{node.identifier}").tableType
        spark.sql(f"drop {'view' if kind == 'VIEW' else 'table'} {name}")
    spark.sql(f"create table {name} using parquet location '{folder}'")


def write_spark_result(spark, df, node: Node, out_dir: Path) -> int:
    """A Spark-native step's DataFrame, written as Parquet and declared as the node's table. Returns its rows."""
    folder = _fresh_folder(out_dir, node)
    df.write.mode("overwrite").parquet(str(folder))
    declare_table(spark, node, folder)
    return spark.table(f"`{node.schema}`.`{node.identifier}`").count()


# --------------------------------------------------------------------------- running the steps
def native_steps() -> dict[str, Callable]:
    """Model name -> its Spark-native implementation (spark, node, nodes, as_of) -> DataFrame."""
    from bullseye import spark_clv

    return {"int_customer__clv_summary": spark_clv.clv_summary, "int_customer__clv": spark_clv.clv_scores}


def run_python_step(spark, node: Node, nodes: dict[str, Node], out_dir: Path, as_of: date) -> NodeResult:
    """Run one Python model on Spark (natively when :func:`native_steps` has it, else :func:`run_generic`);
    a failure raises TransformError naming the model."""
    t = time.perf_counter()
    native = native_steps().get(node.name)
    try:
        if native is not None:
            rows = write_spark_result(spark, native(spark, node, nodes, as_of), node, out_dir)
            message = f"python step, Spark-native (bullseye.spark_clv): {rows} rows written"
        else:
            message = run_generic(spark, node, nodes, out_dir, as_of)
    except Exception as exc:
        kind = "Spark-native" if native is not None else "generic (driver)"
        raise TransformError(f"Python model {node.name} failed as a {kind} step on Spark: "
                             f"{type(exc).__name__}: {exc}") from exc
    return NodeResult(node.name, "model", "success", message, round(time.perf_counter() - t, 3))


# --------------------------------------------------------------------------- the identity step (driver, Spark scoring)
def copy_identity_state(con, warehouse: Path) -> None:
    """The warehouse's ``identity`` schema (registry, journal, match model, match cache ...) copied into ``con``:
    the step writes its copy, never the warehouse (the DuckDB night's, which may be running beside it)."""
    import duckdb

    src = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [t for (t,) in src.execute("select table_name from information_schema.tables "
                                             "where table_schema = 'identity' order by table_name").fetchall()]
    finally:
        src.close()
    con.execute(f"attach '{warehouse}' as __bz_wh (read_only)")
    try:
        con.execute("create schema if not exists identity")
        for table in tables:
            con.execute(f'create table identity."{table}" as select * from __bz_wh.identity."{table}"')
    finally:
        con.execute("detach __bz_wh")


def run_identity_step(spark, step: Node, nodes: dict[str, Node], out_dir: Path, warehouse: Path,
                      as_of: date) -> NodeResult:
    """The night's identity step (bullseye.identity.step.run_identity) in the Spark build: on the driver, over a
    DuckDB copy of the warehouse's identity state (resolver.resolve first rolls back what the night ``as_of`` and
    later wrote, so a warehouse that already ran the night gives the state before it) and the identity inputs
    collected from Spark, with every candidate pair scored on Spark (mode ``full``, the stored model;
    bullseye.identity.spark_match.SparkScorer). A night without a usable stored model trains one here, on DuckDB,
    as the night does; the message says so. Then every ``identity`` source the dbt project reads (clusters,
    registry, journal) replaces the copy exported from the warehouse at the start of the build, with the same
    column types. A failure raises TransformError naming the step: no fallback to the exported tables."""
    import duckdb

    t = time.perf_counter()
    try:
        from bullseye.identity.resolver import IdentityConfig
        from bullseye.identity.spark_match import SparkScorer
        from bullseye.identity.step import run_identity

        con = duckdb.connect()
        try:
            copy_identity_state(con, warehouse)
            collect_inputs(spark, con, step, nodes)
            relations = {nodes[u].name: _duck_name(nodes[u]) for u in step.parents}
            scorer = SparkScorer(spark)
            result = run_identity(con, as_of, IdentityConfig(mode="full"), relations, scorer)
            sources = sorted(identity_sources(nodes), key=lambda u: nodes[u].name)
            written = {nodes[u].name: _write_duckdb_table(spark, con, nodes[u], out_dir) for u in sources}
        finally:
            con.close()
    except Exception as exc:
        raise TransformError(f"identity step failed on Spark: {type(exc).__name__}: {exc}") from exc
    run = result.run
    if scorer.calls == 0:  # keys only (too few records to train): nothing was scored, on any engine
        scored = f"no pairs scored ({run.get('matching_note')})"
    else:
        scored = (f"scored on Spark (Splink SparkAPI): {scorer.records_sent} records, {scorer.pairs_returned} "
                  f"pairs returned, {run['match_edges']} matches at >= {run['match_threshold']}")
    if run["mode"] == "retrain":  # no usable stored model: resolver trained one, on DuckDB, as the night does
        trained = f"model trained tonight on DuckDB ({as_of})"
    elif run["mode"] == "keys only":
        trained = "no match model"
    else:
        trained = f"stored model trained on {run['model_trained_on']}"
    message = (f"identity step, mode {run['mode']}, {scored}; {trained}; {run['records']} records, "
               f"{run['people']} people; written to Spark: "
               + ", ".join(f"identity.{name} ({rows} rows)" for name, rows in written.items()))
    if run.get("blocked"):  # the night would stop before publishing; the Spark build only says so
        message += f"; identity drift: {run['block_reason']}"
    return NodeResult("identity", "step", "success", message, round(time.perf_counter() - t, 3))


def _write_duckdb_table(spark, con, node: Node, out_dir: Path) -> int:
    """``con``'s table of the node's schema and name as the node's Spark table (Parquet, DuckDB's column types,
    as bullseye.spark.export_sources writes the warehouse's). Returns its rows."""
    con.execute("drop table if exists _bz_result")  # write_duckdb_result creates it from a relation
    return write_duckdb_result(spark, con, con.table(_duck_name(node)), node, out_dir)
