"""Airflow DAG ``bullseye_nightly``: load -> build (dbt, via Cosmos) -> check -> publish -> export -> commit.

A night is a transaction (bullseye.night): load starts it on a working copy of the
warehouse, dbt builds that copy (its path depends on the run's date, so Cosmos gets it
as a templated environment variable), and commit swaps the night in. A failed task
leaves the committed warehouse and the publication as they were; clearing the run
starts the night again from load.

Thin on purpose: every task calls a function of the ``bullseye`` package, and
nothing heavy runs at parse time. Cosmos reads the compiled dbt manifest
(``bullseye dbt-manifest``) instead of running ``dbt ls`` on every parse, and
runs the whole project with one ``dbt build`` (watcher mode) while still
showing one Airflow task per model.

Paths come from the environment: BULLSEYE_LANDING, BULLSEYE_HOME,
BULLSEYE_WAREHOUSE (see docker-compose.yml).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")  # Cosmos calls home otherwise
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

from airflow.sdk import dag, task  # noqa: E402
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig  # noqa: E402
from cosmos.constants import ExecutionMode, LoadMode  # noqa: E402

from bullseye.config import working_copy  # noqa: E402 - light: no database or dbt import

PROJECT = Path(os.environ.get("BULLSEYE_PROJECT", Path(__file__).resolve().parents[1]))
DBT_DIR = PROJECT / "dbt_project"
MANIFEST = Path(os.environ.get("BULLSEYE_DBT_MANIFEST", DBT_DIR / "target" / "manifest.json"))
HOME = Path(os.environ.get("BULLSEYE_HOME", PROJECT / "var"))
WAREHOUSE = os.environ.get("BULLSEYE_WAREHOUSE", str(HOME / "warehouse" / "bullseye.duckdb"))
LANDING = os.environ.get("BULLSEYE_LANDING", str(HOME / "demo_landing"))
os.environ.setdefault("BULLSEYE_WAREHOUSE", WAREHOUSE)  # read by dbt_project/profiles.yml
EXECUTION_MODE = ExecutionMode(os.environ.get("BULLSEYE_COSMOS_MODE", "watcher"))
if not MANIFEST.exists():
    raise FileNotFoundError(f"dbt manifest {MANIFEST} is missing: run `make manifest` (bullseye dbt-manifest)")


def _config(ds: str):
    from bullseye.config import RunConfig

    return RunConfig(landing=LANDING, warehouse=WAREHOUSE, as_of=ds, home=HOME)


def _step(name: str, ds: str):
    """Run one step of the night under the warehouse's lock (one writer at a time)."""
    from bullseye.night import night_lock
    from bullseye.pipeline import STEPS, NightSummary

    cfg = _config(ds)
    summary = NightSummary(as_of=ds)
    with night_lock(cfg, f"Airflow task {name}"):
        result = dict(STEPS)[name](cfg, summary)
    return summary, result


@dag(
    dag_id="bullseye_nightly",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one writer at a time: DuckDB allows a single writer
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["bullseye"],
    doc_md=__doc__,
)
def bullseye_nightly():
    @task
    def load(ds: str | None = None) -> dict:
        summary, _ = _step("load", ds)
        return {"rows_loaded": summary.rows_loaded, "rows_quarantined": summary.rows_quarantined}

    build = DbtTaskGroup(
        group_id="build",
        project_config=ProjectConfig(dbt_project_path=DBT_DIR, manifest_path=MANIFEST,
                                     dbt_vars={"as_of": "{{ ds }}"}),
        profile_config=ProfileConfig(profile_name="bullseye", target_name="local",
                                     profiles_yml_filepath=DBT_DIR / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=EXECUTION_MODE),
        # Tests on two models (relationships) run once both are built, as in `dbt build`.
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, should_detach_multiple_parents_tests=True),
        # dbt builds the night's working copy (bullseye.night); Cosmos renders the template per run.
        operator_args={"install_deps": False,
                       "env": {"BULLSEYE_WAREHOUSE": str(working_copy(Path(WAREHOUSE), "{{ ds }}"))}},
    )

    @task
    def built(ds: str | None = None) -> None:
        """Record in the night's working copy that dbt built it (Cosmos ran the models above):
        commit refuses a night whose marts were not rebuilt in this attempt."""
        from bullseye.night import mark

        mark(_config(ds), "build")

    @task
    def check(ds: str | None = None) -> dict:
        summary, _ = _step("check", ds)
        return {"passed": summary.checks_passed, "warnings": summary.checks_warned}

    @task
    def publish(ds: str | None = None) -> dict:
        return _step("publish", ds)[1]

    @task
    def export(ds: str | None = None) -> dict:
        return _step("export", ds)[1]

    @task
    def commit(ds: str | None = None) -> dict:
        summary, kind = _step("commit", ds)
        return {"kind": kind, "notes": summary.notes}

    load() >> build >> built() >> check() >> publish() >> export() >> commit()


bullseye_nightly()
