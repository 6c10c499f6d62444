"""Shared fixtures: small landing zones written by hand or by the demo generator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def con(tmp_path):
    """A fresh DuckDB warehouse file for loader tests."""
    import duckdb

    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def q(con, sql, *params):
    """All rows of a query (fetchall: a half-read result blocks the connection)."""
    return con.execute(sql, list(params)).fetchall()


def db_rows(db: Path, sql: str, *params) -> list[tuple]:
    """All rows of a query on a warehouse file, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    """A small demo landing zone (about 1,000 people), generated once per test session."""
    from bullseye.demo import generate

    out = tmp_path_factory.mktemp("demo") / "landing"
    generate(out, scale=0.1, seed=7)
    return out


DEMO_NIGHT = "2026-11-24"  # the night after the demo's last day of data


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base temporary folder every pytest-xdist worker of this run shares (each worker's basetemp is a
    ``popen-gwN`` folder inside it); without xdist, this process's own basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if base.name.startswith("popen-gw") else base


@pytest.fixture(scope="session")
def demo_night(tmp_path_factory) -> Path:
    """The home of one committed demo night (``bullseye run`` on the scale-0.1, seed-7 demo, as of
    :data:`DEMO_NIGHT`): built once per test run, whichever worker asks first, the others wait on a file lock.
    Read-only: copy it (:func:`copy_home`) before running anything on it. What the run printed is in
    ``console.txt`` beside the home. Several test files start from this
    same night; building it once instead of once per file is about a minute of CPU each on the 2-core CI."""
    from filelock import FileLock

    root = shared_root(tmp_path_factory) / "demo_night"
    root.mkdir(exist_ok=True)
    home, done, failed = root / "home", root / "built", root / "failed"
    with FileLock(str(root / "lock")):
        if failed.exists():
            pytest.fail(f"the shared demo night failed in another worker: {failed.read_text()}")
        if not done.exists():
            import contextlib
            import io

            from bullseye import cli
            from bullseye.demo import generate

            generate(root / "landing", scale=0.1, seed=7)
            out = io.StringIO()
            console, cli.console = cli.console, cli.Console(file=out, highlight=False, width=200)
            try:
                with contextlib.redirect_stdout(out):
                    code = cli.main(["run", "--landing", str(root / "landing"), "--as-of", DEMO_NIGHT,
                                     "--home", str(home)])
            finally:
                cli.console = console
            (root / "console.txt").write_text(out.getvalue(), encoding="utf-8")
            if code != 0:
                failed.write_text(f"bullseye run exited {code}")
                pytest.fail(f"the shared demo night failed: bullseye run exited {code}")
            done.touch()
    return home


def copy_home(home: Path, to: Path) -> Path:
    """A private copy of a night's home (warehouse, published, exports ...) to run more nights on."""
    import shutil

    shutil.copytree(home, to)
    return to


def render_model_sql(model: Path, **context) -> str:
    """A dbt model's SQL as DuckDB runs it, without dbt: its Jinja rendered with the project's macros, each
    cross-database macro (``adapter.dispatch``) taking its ``duckdb__``, else ``default__``, implementation;
    ``context`` gives the rest (``source``, ``ref``, ``var`` ... as functions). For tests that run one model's
    SQL on a warehouse they made by hand."""
    import jinja2

    from bullseye.config import DBT_PROJECT_DIR

    macros = "\n".join(f.read_text(encoding="utf-8") for f in sorted((DBT_PROJECT_DIR / "macros").glob("*.sql")))
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = None

    class Adapter:
        @staticmethod
        def dispatch(name: str, _package: str | None = None):
            return getattr(module, f"duckdb__{name}", None) or getattr(module, f"default__{name}")

    glob = {"adapter": Adapter, "return": lambda value: value, **context}
    module = env.from_string(macros, globals=glob).module
    glob.update({k: getattr(module, k) for k in dir(module) if not k.startswith("_")})
    return env.from_string(model.read_text(encoding="utf-8"), globals=glob).render()


MINIMAL_CRM = """source_customer_id,name,phone
c1,张伟,138 0013 8001
c2,李娜,+86 139-0000-1111
"""
MINIMAL_ORDERS = """order_id,source_customer_id,order_ts,amount
o1,c1,2026-01-05 10:00:00,120.50
o2,c1,2026/3/1,80
o3,c2,20260401,300
"""


# ``pytest -m "not slow"`` is the quick subset for development; ``make test`` runs everything.
# Slow: runs a whole night (``bullseye run``, dbt), Airflow or a CLI subprocess, or took over
# 5 s on the 2-core machine. Modules slow throughout say so themselves (``pytestmark``); the
# tests below are marked here, by module and test name ("*": the whole module).
SLOW_TESTS: dict[str, tuple[str, ...]] = {
    "test_forget.py": ("test_forget_by_phone_erases_everywhere_and_a_redelivery_is_held_back",),  # two nights
    "test_subject_access.py": ("*",),  # a committed demo night (tests.privacy_kit)
    "test_list_scorecards.py": ("*",),  # the same night
    "test_ingest_privacy.py": ("test_after_a_night_neither_the_clear_id_nor_the_salt_is_anywhere",),  # a night
    "test_contact_policy_property.py": ("test_no_included_row_breaks_consent_suppression_caps_or_list_terms",),
    "test_contact_policy.py": ("test_holdout_is_stable_across_nights_and_close_to_its_share",),
    "test_identity.py": ("test_incremental_night_ends_with_the_clusters_of_a_full_rebuild",
                         "test_drift_above_the_limit_blocks_until_acknowledged"),
    "test_identity_any_file.py": ("test_f1_on_files_without_contact_keys",),
    "test_pipeline.py": ("test_night_report_opens_offline_and_matches_the_marts",),  # module marked slow too
    "test_identity_bench_file.py": ("test_file_bench_scores_a_labelled_crm_file_and_list_on_their_keys",),
    "test_cli_kind.py": ("test_a_user_error_while_running_is_one_line_without_traceback",),  # imports Splink, 8 s
    "test_next_day.py": ("*",),  # loads a demo landing zone and a day more
    "test_quality.py": ("test_names_severity_and_notes_reach_data_docs_the_page_and_the_results_table",  # GE runs
                        "test_row_count_is_checked_against_last_night_and_a_rerun_replaces_the_night"),
    "test_night_bench.py": ("test_probes_time_dbt_ge_and_pytensor_through_the_functions_the_night_calls",  # GE
                            "test_airflow_task_start_parses_the_dag_in_a_fresh_process"),  # Airflow in a subprocess
}


# The longest files first: `make test` runs the files on two workers (pytest-xdist, --dist loadfile), which take
# files in collection order, so a long file collected last would run alone at the end.
LONGEST_FIRST = ("test_airflow.py", "test_spark_parity.py", "test_segments.py", "test_nights.py", "test_forget.py",
                 "test_identity_spark.py")


def pytest_collection_modifyitems(config, items):
    """Mark the tests of :data:`SLOW_TESTS` ``slow``; a name that no longer exists is an error,
    so a renamed slow test does not drop silently into the quick subset. Then put LONGEST_FIRST first."""
    slow = pytest.mark.slow
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order
    for item in items:
        names = SLOW_TESTS.get(item.path.name)
        if not names:
            continue
        missing = [n for n in names if n != "*" and not hasattr(item.module, n)]
        if missing:
            raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS names tests {item.path.name} does not have: "
                                    f"{missing}")
        if "*" in names or getattr(item, "originalname", item.name) in names:
            item.add_marker(slow)
