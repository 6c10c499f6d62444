"""A night is a transaction (bullseye.night): merges, killed processes, backfills, re-runs, two writers.

One scenario on the demo world, in two homes:
- home A: the night of 11-24, then 11-25 with a CRM record that ties two people who were on
  11-24's lists (one by member card, the other by WeChat unionid): a merge;
- home C: a byte copy of A after 11-24, where the night of 11-25 is killed at every step in
  turn (load, build, check, publish, export, commit), then run cleanly: it must end exactly as
  A's 11-25, and every kill must leave the committed warehouse and publication untouched;
- back in A: a backfill of 11-24 and a re-run of 11-25 change nothing of 11-25.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bullseye.cli import main
from bullseye.config import RunConfig
from bullseye.night import WarehouseBusy, lock_path, night_lock, working_copy
from tests.conftest import DEMO_NIGHT, copy_home

pytestmark = pytest.mark.slow
D1, D2 = DEMO_NIGHT, "2026-11-25"
BIN = Path(sys.executable).parent / "bullseye"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def marts_digest(db: Path) -> dict[str, str]:
    """One hash per marts table, over its rows in a fixed order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                                            "ORDER BY 1").fetchall()]
        return {t: hashlib.sha256(repr(con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()).encode())
                .hexdigest() for t in tables}
    finally:
        con.close()


def exports_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _args(landing: Path, home: Path, as_of: str, *extra: str) -> list[str]:
    return ["run", "--landing", str(landing), "--as-of", as_of, "--home", str(home), *extra]


def _merge_delivery(home: Path, landing: Path, out: Path) -> tuple[str, str]:
    """Copy ``landing`` to ``out`` and add a CRM record carrying A's member card and B's unionid,
    where A and B are two people on the first night's lists. Returns (A, B)."""
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:
        keyed = """SELECT m.customer_id, any_value(c.{col}) AS v
            FROM marts.customer_identity_map m JOIN raw.crm_customers c
              ON m.source = 'crm_customers' AND m.source_record_id = c.source_system || ':' || c.source_customer_id
            JOIN marts.target_lists t ON t.customer_id = m.customer_id AND NOT t.is_holdout
            WHERE c.{col} IS NOT NULL GROUP BY 1 ORDER BY 1"""
        cards = con.execute(keyed.format(col="member_card_no")).fetchall()
        unions = con.execute(keyed.format(col="wechat_unionid")).fetchall()
    finally:
        con.close()
    a, card = cards[0]
    b, unionid = next(u for u in unions if u[0] != a)
    shutil.copytree(landing, out)
    (out / "crm_customers" / "merge_2026-11-25.csv").write_text(
        "source_system,source_customer_id,member_card_no,wechat_unionid,updated_at\n"
        f"service_desk,SD-MERGE-1,{card},{unionid},2026-11-25 09:30:00\n", encoding="utf-8")
    return a, b


@pytest.fixture(scope="module")
def world(demo_landing, demo_night, tmp_path_factory):
    root = tmp_path_factory.mktemp("nights")
    home_a = copy_home(demo_night, root / "A")  # D1 on the demo landing (tests.conftest.demo_night)
    home_c = root / "C"
    shutil.copytree(home_a, home_c, ignore=shutil.ignore_patterns("logs", "quality"))
    first_exports = exports_digest(home_a / "exports" / D1)
    a, b = _merge_delivery(home_a, demo_landing, root / "landing2")
    return {"root": root, "A": home_a, "C": home_c, "landing1": demo_landing, "landing2": root / "landing2",
            "pair": (a, b), "exports_d1": first_exports}


@pytest.fixture(scope="module")
def merged_night(world):
    """A's second night, with the merge. Before the fix, dbt's relationships test on
    target_lists.customer_id failed on the merged-away id of 11-24, and every later night with it."""
    code = main(_args(world["landing2"], world["A"], D2))
    assert code == 0, "the night with an identity merge must succeed"
    pub = world["A"] / "published" / "bullseye.duckdb"
    return {"marts": marts_digest(pub), "exports": exports_digest(world["A"] / "exports" / D2)}


def test_a_merge_keeps_history_and_reads_it_through_the_journal(world, merged_night):
    a, b = world["pair"]
    con = duckdb.connect(str(world["A"] / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:
        merges = con.execute("""SELECT old_customer_id, new_customer_id FROM identity.journal
                                WHERE as_of = ? AND event = 'merge'""", [D2]).fetchall()
        pair = [m for m in merges if {m[0], m[1]} == {a, b}]
        assert len(pair) == 1, merges
        retired, survivor = pair[0]
        # History keeps the id it had ...
        assert con.execute("SELECT count(*) FROM marts.target_lists WHERE run_date = ? AND customer_id = ?",
                           [D1, retired]).fetchall()[0][0] >= 1
        assert con.execute("SELECT count(*) FROM marts.dim_customer WHERE customer_id = ?",
                           [retired]).fetchall()[0][0] == 0
        # ... and what needs today's person reads it through the merge journal.
        assert con.execute("""SELECT current_customer_id, status FROM intermediate.int_identity__id_lineage
                              WHERE customer_id = ?""", [retired]).fetchall() == [(survivor, "merged")]
        retired_plans = con.execute("""SELECT campaign_id, channel, send_date FROM marts.target_lists
            WHERE run_date = ? AND customer_id = ? AND NOT is_holdout ORDER BY ALL""", [D1, retired]).fetchall()
        ledger = con.execute("""SELECT campaign_id, channel, contact_date::DATE FROM marts.contact_ledger
            WHERE customer_id = ? AND source = 'planned' ORDER BY ALL""", [survivor]).fetchall()
        assert set(retired_plans) <= set(ledger), "the merged-away id's plan must count for the survivor's caps"
    finally:
        con.close()


def _state(home: Path) -> dict[str, str]:
    files = [home / "warehouse" / "bullseye.duckdb", home / "published" / "bullseye.duckdb"]
    out = {str(f.relative_to(home)): _sha(f) for f in files}
    out.update({f"exports/{k}": v for k, v in exports_digest(home / "exports").items()})
    return out


def test_a_night_killed_or_failing_at_any_step_leaves_nothing_and_reruns_clean(world, merged_night, monkeypatch,
                                                                                capsys):
    home, landing = world["C"], world["landing2"]
    before = _state(home)
    # Each attempt starts where the previous one stopped (--steps), so every step is killed
    # once without running the whole night six times. A killed step has done its work but
    # not recorded it, so the next attempt runs it again.
    attempts = [("load", None), ("build", None), ("check", None), ("publish", "check,publish,export,commit"),
                ("export", "publish,export,commit"), ("commit", "export,commit")]
    for point, steps in attempts:
        extra = ["--steps", steps] if steps else []
        out = subprocess.run([BIN, *_args(landing, home, D2, *extra)],
                             env={**os.environ, "BULLSEYE_FAILPOINT": point},
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == -9, f"failpoint {point} did not kill the run: {out.stdout[-2000:]}"
        if point != "commit":
            assert _state(home) == before, f"a night killed at {point} changed the committed state"
        if point == "publish":  # and a full disk while exporting: a clear message, nothing committed
            def full_disk(*_a, **_k):
                raise OSError(errno.ENOSPC, "No space left on device", str(home / "exports"))
            monkeypatch.setattr("bullseye.activation.exports.export_lists", full_disk)
            assert main(_args(landing, home, D2, "--steps", "publish,export,commit")) == 1
            assert "No space left on device" in capsys.readouterr().out
            assert _state(home) == before
            monkeypatch.undo()
    # The commit was killed after swapping in the exports and before the warehouse: the
    # warehouse is still the previous night's, and running the night again finishes it.
    assert _state(home)["warehouse/bullseye.duckdb"] == before["warehouse/bullseye.duckdb"]
    assert main(_args(landing, home, D2)) == 0
    assert marts_digest(home / "published" / "bullseye.duckdb") == merged_night["marts"]
    assert exports_digest(home / "exports" / D2) == merged_night["exports"]
    assert not working_copy(home / "warehouse" / "bullseye.duckdb", D2).exists()


def test_backfill_changes_no_later_night_and_rerun_replaces_exactly_its_night(world, merged_night):
    home = world["A"]
    before = _state(home)
    # Backfill the older night: its exports are rewritten (the same as that night gave), but
    # the warehouse and the publication keep the later night.
    assert main(_args(world["landing1"], home, D1)) == 0
    after = _state(home)
    assert after["warehouse/bullseye.duckdb"] == before["warehouse/bullseye.duckdb"]
    assert after["published/bullseye.duckdb"] == before["published/bullseye.duckdb"]
    assert exports_digest(home / "exports" / D1) == world["exports_d1"]
    assert (home / "backfills" / D1 / "bullseye.duckdb").exists()
    # Re-running the later night gives exactly what it gave before.
    assert main(_args(world["landing2"], home, D2)) == 0
    assert marts_digest(home / "published" / "bullseye.duckdb") == merged_night["marts"]
    assert exports_digest(home / "exports" / D2) == merged_night["exports"]
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT as_of::VARCHAR, kind FROM meta.nights ORDER BY 1").fetchall() == [
            (D1, "night"), (D2, "night")]
    finally:
        con.close()


def test_a_second_run_on_the_same_warehouse_exits_at_once(world, merged_night, capsys):
    home = world["A"]
    before = _state(home)
    cfg = RunConfig(landing=world["landing2"], warehouse=home / "warehouse" / "bullseye.duckdb", as_of=D2,
                    home=home)
    with night_lock(cfg, "test"):
        assert main(_args(world["landing2"], home, D2)) == 75
        with pytest.raises(WarehouseBusy, match="in use by bullseye test"):
            with night_lock(cfg):
                pass
    assert "in use by bullseye test of night 2026-11-25" in capsys.readouterr().out
    assert _state(home) == before
    # The lock dies with its holder: a killed holder leaves no stale lock.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"), str(lock_path(cfg.warehouse))],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    fd = os.open(lock_path(cfg.warehouse), os.O_RDWR)
    with pytest.raises(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    holder.kill()
    holder.wait()
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    os.close(fd)
