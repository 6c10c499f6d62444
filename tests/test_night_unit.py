"""bullseye.night on a hand-made warehouse (no dbt): what commit refuses, and what a re-run keeps."""

from __future__ import annotations

import os
import shutil
from datetime import date

import duckdb
import pytest

from bullseye import night
from bullseye.config import RunConfig

D = date(2026, 11, 25)


@pytest.fixture
def cfg(tmp_path) -> RunConfig:
    wh = tmp_path / "warehouse" / "bullseye.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS x")
    con.close()
    return RunConfig(landing=tmp_path / "land", warehouse=wh, as_of=D, home=tmp_path)


def _finish_steps(cfg: RunConfig) -> None:
    for step in ("build", "check", "publish", "export"):
        night.mark(cfg, step)
    night.staged_exports(cfg).mkdir(parents=True)
    (night.staged_exports(cfg) / "manifest.json").write_text("{}", encoding="utf-8")
    pub = night.staged_publication(cfg)
    pub.parent.mkdir(parents=True)
    shutil.copyfile(cfg.warehouse, pub)


def test_commit_swaps_in_the_working_copy(cfg):
    work = night.begin(cfg)
    con = duckdb.connect(str(work))
    con.execute("UPDATE marts.t SET x = 2")
    con.close()
    _finish_steps(cfg)
    assert night.commit(cfg) == "night"
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    assert con.execute("SELECT x FROM marts.t").fetchall() == [(2,)]
    assert con.execute("SELECT as_of, kind FROM meta.nights").fetchall() == [(D, "night")]
    con.close()
    assert (cfg.exports / "manifest.json").exists() and cfg.published.exists()
    assert not work.exists() and not night.staging_dir(cfg).exists()


def test_commit_refuses_unfinished_steps(cfg):
    night.begin(cfg)
    night.mark(cfg, "build")
    with pytest.raises(night.NightError, match="check, publish, export have not finished"):
        night.commit(cfg)


def test_commit_refuses_when_the_warehouse_changed_since_the_night_began(cfg):
    """A `bullseye forget` (or another writer) replaced the committed file meanwhile: committing
    the working copy would bring the erased person back."""
    night.begin(cfg)
    _finish_steps(cfg)
    replaced = cfg.warehouse.with_name("other.duckdb")
    shutil.copyfile(cfg.warehouse, replaced)
    os.replace(replaced, cfg.warehouse)
    with pytest.raises(night.NightError, match="changed since night 2026-11-25 began"):
        night.commit(cfg)


def test_a_rerun_keeps_the_drift_acknowledgement_of_the_earlier_attempt(cfg):
    from bullseye.identity import drift

    work = night.begin(cfg)
    con = duckdb.connect(str(work))
    drift.acknowledge(con, D, "王经理", "reviewed the merge wave")
    con.close()
    work = night.begin(cfg)  # the night started again from load
    con = duckdb.connect(str(work), read_only=True)
    assert con.execute("SELECT acknowledged_by, note FROM identity.acks WHERE as_of = ?", [D]).fetchall() == [
        ("王经理", "reviewed the merge wave")]
    con.close()


def test_working_copy_stays_beside_the_warehouse_under_its_name(cfg):
    work = night.begin(cfg)
    assert work.name == cfg.warehouse.name and work.parent.parent.parent == cfg.warehouse.parent
    assert os.stat(work).st_dev == os.stat(cfg.warehouse).st_dev  # the commit is a rename


def test_a_warehouse_from_before_night_records_still_knows_its_latest_night(cfg):
    """No meta.nights yet (written by an older version): identity.runs tells the newest night, so an
    older date is a backfill and cannot replace it."""
    con = duckdb.connect(str(cfg.warehouse))
    con.execute("CREATE SCHEMA identity; CREATE TABLE identity.runs (as_of DATE)")
    con.execute("INSERT INTO identity.runs VALUES (DATE '2026-11-30')")
    con.close()
    assert night.latest_committed(cfg.warehouse) == date(2026, 11, 30)
    night.begin(cfg)
    assert night.progress(night.working_copy(cfg.warehouse, D))[0] == "backfill"
