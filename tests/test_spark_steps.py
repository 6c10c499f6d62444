"""The planning and the shim of bullseye.spark_steps, without Spark: which dbt call or step builds what, what a
Python model's ``dbt`` object answers, and that a Python model that cannot run stops the build by name.

The steps themselves run on Spark in tests/test_spark_parity.py."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from bullseye.spark_steps import DbtShim, Node, Stage, plan_stages, run_python_step
from bullseye.transform import TransformError


def _node(name: str, language: str = "sql", parents: tuple[str, ...] = (), kind: str = "model", **config) -> Node:
    return Node(f"{kind}.bullseye.{name}", name, kind, language, "intermediate", name, f"models/{name}.py",
                tuple(f"model.bullseye.{p}" if not p.startswith("source.") else p for p in parents), config)


def _graph(*nodes: Node) -> dict[str, Node]:
    return {n.unique_id: n for n in nodes}


def test_sql_nodes_share_a_dbt_call_until_a_python_model_feeds_them():
    g = _graph(_node("a"), _node("b", parents=("a",)), _node("py1", "python", ("b",)),
               _node("py2", "python", ("py1",)), _node("c", parents=("py2", "a")), _node("d", parents=("a",)),
               _node("py3", "python", ("c",)))
    stages = plan_stages(g, list(g))
    assert stages == [Stage("dbt", ("model.bullseye.a", "model.bullseye.b", "model.bullseye.d")),
                      Stage("python", ("model.bullseye.py1", "model.bullseye.py2")),
                      Stage("dbt", ("model.bullseye.c",)),
                      Stage("python", ("model.bullseye.py3",))]


def test_parents_outside_the_selection_count_as_built():
    g = _graph(_node("a"), _node("py", "python", ("a",)), _node("b", parents=("py",)))
    assert plan_stages(g, ["model.bullseye.py", "model.bullseye.b"]) == [
        Stage("python", ("model.bullseye.py",)), Stage("dbt", ("model.bullseye.b",))]


def test_a_selection_without_python_models_is_one_dbt_call():
    g = _graph(_node("a"), _node("b", parents=("a",)))
    assert [s.kind for s in plan_stages(g, list(g))] == ["dbt"]


def test_the_shim_answers_as_dbt_duckdb():
    """config.get gives the manifest's rendered value (a string, as dbt-core's config_dict has it), None or the
    default for a key the node does not have; ref and source give DuckDB relations on the step's connection."""
    src = Node("source.bullseye.settings.campaigns", "campaigns", "source", "sql", "settings", "campaigns",
               source_name="settings")
    a = _node("a")
    py = _node("py", "python", ("a", src.unique_id), as_of="", min_customers="50")
    con = duckdb.connect()
    con.execute("create schema intermediate; create table intermediate.a as select 1 as x")
    con.execute("create schema settings; create table settings.campaigns as select 'y' as s")
    dbt = DbtShim(con, py, _graph(a, py, src))
    dbt.config(materialized="table")
    assert dbt.config.get("min_customers") == "50" and dbt.config.get("as_of") == ""
    assert dbt.config.get("horizon_days") is None and dbt.config.get("horizon_days", 7) == 7
    assert dbt.ref("a").fetchall() == [(1,)]
    assert dbt.source("settings", "campaigns").fetchall() == [("y",)]
    with pytest.raises(TransformError, match="not among the model's parents"):
        dbt.ref("b")


def test_a_python_model_that_cannot_run_stops_the_build_by_name():
    py = _node("int_missing_model", "python")
    with pytest.raises(TransformError, match="Python model int_missing_model failed as a generic"):
        run_python_step(None, py, _graph(py), None, date(2026, 11, 24))


def _identity_graph(*extra: Node) -> dict[str, Node]:
    """The identity part of the project: inputs, the identity sources, the models reading them."""
    src = {t: Node(f"source.bullseye.identity.{t}", t, "source", "sql", "identity", t, source_name="identity")
           for t in ("clusters", "registry", "journal")}
    seed = Node("seed.bullseye.identity_overrides", "identity_overrides", "seed", "sql", "ref", "identity_overrides")
    return _graph(*src.values(), seed, _node("stg"), _node("int_identity__records", parents=("stg",)),
                  _node("int_identity__edges", parents=("int_identity__records",)),
                  _node("int_identity__clusters", parents=(src["clusters"].unique_id,)),
                  _node("int_identity__id_lineage", parents=(src["journal"].unique_id, src["registry"].unique_id)),
                  _node("customer_identity_map", parents=("int_identity__clusters",)),
                  _node("py", "python", ("stg",)), *extra)


def test_the_identity_step_runs_after_its_inputs_and_before_the_nodes_reading_identity_state():
    """As the night runs it (bullseye.pipeline: dbt builds the identity inputs, the step resolves them, dbt builds
    the rest): the step is a driver step after the stage building records, edges and the overrides seed, and the
    nodes reading identity.clusters / registry / journal wait for it."""
    from bullseye.spark_steps import IDENTITY_STEP, identity_step

    g = _identity_graph()
    selected = [u for u in g if not u.startswith("source.")]
    step, why = identity_step(g, selected)
    assert why is None and step is not None
    assert set(step.parents) == {"model.bullseye.int_identity__records", "model.bullseye.int_identity__edges",
                                 "seed.bullseye.identity_overrides"}
    assert plan_stages(g, selected) == [
        Stage("dbt", ("seed.bullseye.identity_overrides", "model.bullseye.stg", "model.bullseye.int_identity__records",
                      "model.bullseye.int_identity__edges")),
        Stage("python", ("model.bullseye.py", IDENTITY_STEP)),
        Stage("dbt", ("model.bullseye.int_identity__clusters", "model.bullseye.int_identity__id_lineage",
                      "model.bullseye.customer_identity_map"))]
    assert "model.bullseye.int_identity__clusters" in g and IDENTITY_STEP not in g  # the graph is left as it was


def test_without_its_inputs_the_identity_step_is_not_planned_and_says_why():
    """A selection reading identity state without building the inputs (no overrides seed here) reads the
    warehouse's exported identity tables: one dbt call, and the reason naming what is missing."""
    from bullseye.spark_steps import identity_step

    g = _identity_graph()
    selected = [u for u in g if not u.startswith("source.") and u != "seed.bullseye.identity_overrides"
                and u != "model.bullseye.py"]
    step, why = identity_step(g, selected)
    assert step is None and "identity_overrides" in why and "int_identity__clusters" in why
    assert [s.kind for s in plan_stages(g, selected)] == ["dbt"]
    assert identity_step(g, ["model.bullseye.stg", "model.bullseye.py"]) == (None, None)  # nothing reads it
