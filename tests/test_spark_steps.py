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
