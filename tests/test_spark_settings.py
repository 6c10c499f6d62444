"""The spark target's settings (issue 18), each read in one place (bullseye.config): which dbt target a run
builds on, and where the local Spark session keeps its files. No Spark needed: the session itself runs in
`python -m bullseye.spark build` (dbt_project/docs/spark_port.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bullseye.config import DBT_TARGET_ENV, SPARK_DIR_ENV, RunConfig, dbt_target_name, spark_conf, spark_dir
from bullseye.transform import dbt_args


def test_duckdb_is_the_default_target_and_its_dbt_args_are_unchanged(monkeypatch, tmp_path):
    monkeypatch.delenv(DBT_TARGET_ENV, raising=False)
    assert dbt_target_name() == "local"
    cfg = RunConfig(landing=tmp_path, warehouse=tmp_path / "w.duckdb", as_of="2026-11-24")
    assert "--target" not in dbt_args(cfg, "build")


def test_the_spark_target_is_chosen_by_its_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(DBT_TARGET_ENV, "Spark")
    cfg = RunConfig(landing=tmp_path, warehouse=tmp_path / "w.duckdb", as_of="2026-11-24")
    args = dbt_args(cfg, "build")
    assert args[args.index("--target") + 1] == "spark"


def test_an_unknown_target_is_an_error(monkeypatch):
    monkeypatch.setenv(DBT_TARGET_ENV, "postgres")
    with pytest.raises(ValueError, match=DBT_TARGET_ENV):
        dbt_target_name()


def test_spark_files_stay_under_the_spark_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(SPARK_DIR_ENV, raising=False)
    assert spark_dir(tmp_path) == tmp_path.resolve() / "spark"
    monkeypatch.setenv(SPARK_DIR_ENV, str(tmp_path / "elsewhere"))
    root = spark_dir(tmp_path)
    assert root == (tmp_path / "elsewhere").resolve()
    conf = spark_conf(root)
    assert conf["spark.master"] == "local[2]" and conf["spark.sql.shuffle.partitions"] == "4"
    for key in ("spark.sql.warehouse.dir", "spark.local.dir"):
        assert Path(conf[key]).is_relative_to(root)
    assert str(root / "metastore_db") in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert str(root / "derby") in conf["spark.driver.extraJavaOptions"]
