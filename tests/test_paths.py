"""Where a command reads and writes (bullseye.config.resolve_paths): the one rule every command uses.

Fast: no night runs. The night that checks a second warehouse shares nothing with the demo is
tests/test_pipeline.py::test_a_second_warehouse_given_only_by_path_shares_nothing_with_the_demo.
"""

from __future__ import annotations

import pytest

from bullseye.cli import build_parser, main
from bullseye.config import (
    DEMO_HOME,
    HomeTaken,
    RunConfig,
    claim_home,
    default_home,
    default_warehouse,
    resolve_paths,
)


@pytest.fixture
def env(monkeypatch):
    """No BULLSEYE_HOME or BULLSEYE_WAREHOUSE unless a test sets them."""
    monkeypatch.delenv("BULLSEYE_HOME", raising=False)
    monkeypatch.delenv("BULLSEYE_WAREHOUSE", raising=False)
    return monkeypatch


def test_a_warehouse_alone_keeps_everything_beside_it(env, tmp_path):
    """The README's `--warehouse /data/bullseye.duckdb`: its home is /data (contract §3), and a run's
    published copy, exports, quality context and logs follow, whatever $BULLSEYE_HOME says: a
    warehouse named on the command line never writes into another warehouse's home."""
    env.setenv("BULLSEYE_HOME", str(tmp_path / "demo"))
    home, wh = resolve_paths(None, tmp_path / "data" / "bullseye.duckdb")
    assert (home, wh) == (tmp_path / "data", tmp_path / "data" / "bullseye.duckdb")
    cfg = RunConfig(landing=tmp_path, warehouse=wh, home=home, as_of="2026-06-01")
    assert [cfg.published, cfg.exports, cfg.quality_dir, cfg.logs, cfg.dbt_target] == [
        tmp_path / "data" / p for p in ("published/bullseye.duckdb", "exports/2026-06-01", "quality", "logs",
                                        "dbt_target")]


def test_a_home_alone_has_its_own_warehouse_and_both_given_are_kept(env, tmp_path):
    """`--home H` is H/warehouse/bullseye.duckdb even when $BULLSEYE_WAREHOUSE names the production one (a
    trial run in another home must not write it); both given are used as given."""
    env.setenv("BULLSEYE_WAREHOUSE", str(tmp_path / "prod" / "bullseye.duckdb"))
    assert resolve_paths(tmp_path / "h") == (tmp_path / "h", tmp_path / "h" / "warehouse" / "bullseye.duckdb")
    assert resolve_paths(tmp_path / "h", tmp_path / "w" / "x.duckdb") == (tmp_path / "h", tmp_path / "w" / "x.duckdb")


def test_the_home_layout_round_trips(env, tmp_path):
    """A warehouse in the layout a home makes (<home>/warehouse/bullseye.duckdb) belongs to that home, so
    that `forget --warehouse var/warehouse/bullseye.duckdb` finds the demo's exports and publication."""
    home, wh = resolve_paths(tmp_path / "h")
    assert resolve_paths(None, wh) == (home, wh)
    assert RunConfig(landing=tmp_path, warehouse=wh).home == home


def test_the_environment_then_the_demo(env, tmp_path):
    """No paths: $BULLSEYE_HOME and $BULLSEYE_WAREHOUSE by the same rule (docker-compose sets both, the DAG
    reads them), else the repo's var/ (the demo)."""
    assert resolve_paths() == (DEMO_HOME, DEMO_HOME / "warehouse" / "bullseye.duckdb")
    env.setenv("BULLSEYE_WAREHOUSE", str(tmp_path / "srv" / "b.duckdb"))
    assert resolve_paths() == (tmp_path / "srv", tmp_path / "srv" / "b.duckdb")
    assert (default_home(), default_warehouse(default_home())) == resolve_paths()
    env.setenv("BULLSEYE_HOME", str(tmp_path / "home"))
    assert resolve_paths() == (tmp_path / "home", tmp_path / "srv" / "b.duckdb")
    assert (default_home(), default_warehouse(default_home())) == resolve_paths()


@pytest.mark.parametrize("argv", [["run"], ["forget", "--phone", "1"], ["subject-access", "--phone", "1"],
                                  ["identity", "drift"]])
def test_every_command_that_takes_a_warehouse_takes_a_home(argv):
    """The commands resolve both through resolve_paths, so each must accept both."""
    opts = ["--warehouse", "W", "--home", "H"]
    args = build_parser().parse_args([argv[0], *opts, *argv[1:]])
    assert (args.warehouse, args.home) == ("W", "H")


def test_a_home_holds_one_warehouse(env, tmp_path, capsys):
    """Two warehouses in one folder would share its home: the second's exports would replace the first's,
    and both would use one GE context. The first run claims the home; a run of another warehouse there is
    refused before it writes anything, with a message saying what to do. The same warehouse, reached by
    another path to the same home (a moved or mounted home), is still its own."""
    first = tmp_path / "data" / "a.duckdb"
    claim_home(*resolve_paths(None, first))
    claim_home(*resolve_paths(None, first))  # again: fine
    with pytest.raises(HomeTaken, match="holds the outputs of the warehouse a.duckdb"):
        claim_home(*resolve_paths(None, tmp_path / "data" / "b.duckdb"))
    assert main(["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "data" / "b.duckdb")]) == 2
    assert "give this warehouse its own --home" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".bullseye-home"]
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    claim_home(moved, moved / "a.duckdb")
