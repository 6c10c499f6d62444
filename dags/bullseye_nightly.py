"""Airflow DAG ``bullseye_nightly``: load -> identity inputs (dbt) -> identity -> build (dbt) -> built -> check
-> publish -> export -> commit. The dbt parts run through Cosmos.

A night is a transaction (bullseye.night): load starts it on a working copy of the
warehouse, dbt builds that copy (its path depends on the run's date, so Cosmos gets it
as a templated environment variable), and commit swaps the night in. A failed task
leaves the committed warehouse and the publication as they were; clearing the run
starts the night again from load.

Thin on purpose: every task calls a function of the ``bullseye`` package, and
nothing heavy runs at parse time. Cosmos reads the compiled dbt manifest
(``bullseye dbt-manifest``) instead of running ``dbt ls`` on every parse, and
shows one Airflow task per model. $BULLSEYE_COSMOS_MODE (bullseye.config.cosmos_mode)
picks how it runs them: ``local`` (default; one in-process ``dbt build`` per model,
which builds and tests it; works under ``airflow dags test``) or ``watcher`` (one
``dbt build`` watched by a sensor per model; the sensors need a triggerer, so only
a deployment with one sets it).

Paths come from the environment: BULLSEYE_LANDING, BULLSEYE_HOME,
BULLSEYE_WAREHOUSE (see docker-compose.yml). A run's choices are DAG params (trigger the DAG
with a config to change them, e.g. ``{"identity_mode": "retrain"}``); dbt gets the vars of
bullseye.config.dbt_vars, the run date included (``bullseye run`` passes the same choices, and the run date
in $BULLSEYE_RUN_DATE: bullseye.config.RUN_DATE_ENV).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")  # Cosmos calls home otherwise
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

from airflow.sdk import dag, task  # noqa: E402
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig  # noqa: E402
from cosmos.constants import ExecutionMode, LoadMode, TestBehavior  # noqa: E402

from bullseye.config import (  # noqa: E402 - light: no database or dbt import
    DBT_PROJECT_DIR,
    DBT_RUN_VARS,
    IDENTITY_INPUTS,
    compiled_manifest,
    cosmos_mode,
    default_home,
    default_landing,
    default_warehouse,
    working_copy,
)

DBT_DIR = DBT_PROJECT_DIR
MANIFEST = compiled_manifest()
HOME = default_home()
WAREHOUSE = str(default_warehouse(HOME))
LANDING = str(default_landing(HOME))
os.environ.setdefault("BULLSEYE_WAREHOUSE", WAREHOUSE)  # read by dbt_project/profiles.yml
EXECUTION_MODE = ExecutionMode(cosmos_mode())
# local mode: one task per model that builds and tests it (`dbt build --select <model>`), half the tasks of a run
# task and a test task each (Airflow's start of a task costs about a second); tests on two models still run
# once both are built (detached). watcher mode keeps Cosmos' default.
TEST_BEHAVIOR = TestBehavior.BUILD if EXECUTION_MODE == ExecutionMode.LOCAL else TestBehavior.AFTER_EACH
if not MANIFEST.exists():
    raise FileNotFoundError(f"dbt manifest {MANIFEST} is missing: run `make manifest` (bullseye dbt-manifest)")


# The run's choices, as DAG params: the same settings `bullseye run` takes as options.
PARAMS = {"identity_mode": "auto", "campaigns_dir": "", "full_refresh": False}
# dbt vars, rendered per run by the same function `bullseye run` uses (bullseye.config.dbt_vars).
DBT_VARS = {k: f"{{{{ bullseye_dbt_vars(ds, params)['{k}'] }}}}" for k in DBT_RUN_VARS}


def _config(ds: str, params: dict | None = None):
    from bullseye.config import RunConfig

    params = params or {}
    return RunConfig(landing=LANDING, warehouse=WAREHOUSE, as_of=ds, home=HOME,
                     identity_mode=params.get("identity_mode") or "auto", campaigns=params.get("campaigns_dir") or None,
                     full_refresh=str(params.get("full_refresh", False)).lower() == "true")


def _dbt_vars(ds: str, params: dict | None = None) -> dict[str, str]:
    """The night's dbt vars (a template macro of the DAG)."""
    from bullseye.config import dbt_vars

    return dbt_vars(_config(ds, params))


def _step(name: str, ds: str, params: dict | None = None):
    """Run one step of the night under the warehouse's lock (one writer at a time)."""
    from bullseye.night import night_lock
    from bullseye.pipeline import STEPS, NightSummary

    cfg = _config(ds, params)
    summary = NightSummary(as_of=ds)
    with night_lock(cfg, f"Airflow task {name}"):
        result = dict(STEPS)[name](cfg, summary)
    return summary, result


def _dbt_group(group_id: str, render: dict):
    """A Cosmos task group over part of the dbt project, building the night's working copy."""
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=DBT_DIR, manifest_path=MANIFEST, dbt_vars=DBT_VARS),
        profile_config=ProfileConfig(profile_name="bullseye", target_name="local",
                                     profiles_yml_filepath=DBT_DIR / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=EXECUTION_MODE),
        # Tests on two models (relationships) run once both are built, as in `dbt build`.
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, should_detach_multiple_parents_tests=True,
                                   test_behavior=TEST_BEHAVIOR,
                                   **render),
        # dbt builds the night's working copy (bullseye.night); Cosmos renders the template per run.
        # {"full_refresh": true} in the run's config rebuilds the incremental models (as bullseye run --full-refresh)
        operator_args={"install_deps": False, "full_refresh": "{{ params.full_refresh }}",
                       "env": {"BULLSEYE_WAREHOUSE": str(working_copy(Path(WAREHOUSE), "{{ ds }}"))}},
    )


@dag(
    dag_id="bullseye_nightly",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one writer at a time: DuckDB allows a single writer
    # local mode: each model's task opens the DuckDB file to write, and DuckDB lets one process write it: one task
    # at a time (a real scheduler, LocalExecutor, Celery or Kubernetes, would otherwise start several at once).
    # watcher mode: one `dbt build` writes, its sensors only wait, so Airflow's default applies.
    **({"max_active_tasks": 1} if EXECUTION_MODE == ExecutionMode.LOCAL else {}),
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["bullseye"],
    params=PARAMS,
    user_defined_macros={"bullseye_dbt_vars": _dbt_vars},
    doc_md=__doc__,
)
def bullseye_nightly():
    @task
    def load(ds: str | None = None, params: dict | None = None) -> dict:
        summary, _ = _step("load", ds, params)
        return {"rows_loaded": summary.rows_loaded, "rows_quarantined": summary.rows_quarantined}

    identity_inputs = _dbt_group("identity_inputs", {"select": list(IDENTITY_INPUTS)})

    @task
    def identity(ds: str | None = None, params: dict | None = None) -> dict:
        """Resolve tonight's identities on the working copy (bullseye.identity.step)."""
        from bullseye.night import night_lock, working_config
        from bullseye.pipeline import step_identity

        cfg = _config(ds, params)
        with night_lock(cfg, "Airflow task identity"):
            run = step_identity(working_config(cfg), MANIFEST)
        return {k: str(v) for k, v in run.items() if k in ("mode", "records", "people", "merges", "matching")}

    build = _dbt_group("build", {"exclude": list(IDENTITY_INPUTS)})

    @task
    def built(ds: str | None = None, params: dict | None = None) -> dict:
        """Record the night's history (bullseye.history) and that dbt built the working copy
        (Cosmos ran the models above): commit refuses a night whose marts were not rebuilt in this attempt."""
        from bullseye.night import mark, night_lock, working_config
        from bullseye.pipeline import record_history

        cfg = _config(ds, params)
        with night_lock(cfg, "Airflow task built"):
            counts = record_history(working_config(cfg), MANIFEST)
            mark(cfg, "build")
        return counts

    @task
    def check(ds: str | None = None, params: dict | None = None) -> dict:
        summary, _ = _step("check", ds, params)
        return {"passed": summary.checks_passed, "warnings": summary.checks_warned}

    @task
    def publish(ds: str | None = None, params: dict | None = None) -> dict:
        return _step("publish", ds, params)[1]

    @task
    def export(ds: str | None = None, params: dict | None = None) -> dict:
        return _step("export", ds, params)[1]

    @task
    def commit(ds: str | None = None, params: dict | None = None) -> dict:
        summary, kind = _step("commit", ds, params)
        return {"kind": kind, "notes": summary.notes}

    (load() >> identity_inputs >> identity() >> build >> built() >> check() >> publish() >> export()
     >> commit())


bullseye_nightly()
