"""The DAG parses cleanly, has the expected shape, and `airflow dags test` runs it end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
           "BULLSEYE_DBT_MANIFEST": str(home / "dbt_target" / "manifest.json")}
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "bullseye", "dbt-manifest", "--target", str(home / "dbt_target")], env=env,
                   check=True, capture_output=True)
    subprocess.run([bin_dir / "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    return env, bin_dir


def test_dag_parses_with_expected_tasks(airflow_env):
    env, _ = airflow_env
    code = """
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=__import__('os').environ['AIRFLOW__CORE__DAGS_FOLDER'])
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag('bullseye_nightly')
ids = set(dag.task_ids)
print(sorted(ids))
assert {'load', 'identity', 'built', 'check', 'publish', 'export', 'commit'} <= ids
assert any(t.startswith('identity_inputs.int_identity__records') for t in ids)
assert any(t.startswith('build.dim_customer') for t in ids)
assert not any(t.startswith('build.int_identity__records') for t in ids)  # built once, before the identity step
assert dag.default_args['retries'] >= 1
# the run's choices are DAG params, and dbt gets the same vars from the DAG as from `bullseye run`
assert set(dag.params) >= {'identity_mode', 'campaigns_dir'}
import importlib.util, jinja2
from bullseye.config import dbt_vars
folder = __import__('os').environ['AIRFLOW__CORE__DAGS_FOLDER']
spec = importlib.util.spec_from_file_location('d', folder + '/bullseye_nightly.py')
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
params = {'identity_mode': 'retrain', 'campaigns_dir': '/srv/campaigns'}
rendered = {k: jinja2.Template(v).render(ds='2026-11-24', params=params, bullseye_dbt_vars=mod._dbt_vars)
            for k, v in mod.DBT_VARS.items()}
assert rendered == dbt_vars(mod._config('2026-11-24', params)), rendered
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]


def test_cosmos_mode_defaults_to_local_and_rejects_unknown_modes(monkeypatch):
    """local is the default because it runs anywhere, `airflow dags test` included (watcher sensors wait for
    a triggerer); watcher is taken when asked for, and a typo is an error, not a silent fallback."""
    from bullseye.config import cosmos_mode

    monkeypatch.delenv("BULLSEYE_COSMOS_MODE", raising=False)
    assert cosmos_mode() == "local"
    monkeypatch.setenv("BULLSEYE_COSMOS_MODE", "watcher")
    assert cosmos_mode() == "watcher"
    monkeypatch.setenv("BULLSEYE_COSMOS_MODE", "wacher")
    with pytest.raises(ValueError, match="wacher"):
        cosmos_mode()


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"  # this machine's PostgreSQL, trust auth (.ci/run)


@pytest.fixture
def postgres_metadata():
    """A throw-away PostgreSQL database for Airflow's metadata, dropped after the test (with its connections)."""
    import psycopg2  # the [postgres] extra

    name = f"bullseye_airflow_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=5)
    except psycopg2.OperationalError as err:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({err}); .ci/run starts it")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}", name
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def _airflow_processes(airflow_tmp: Path) -> list:
    """Processes started with an AIRFLOW_HOME under ``airflow_tmp`` (Airflow's own ignore SIGTERM)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("AIRFLOW_HOME", "").startswith(str(airflow_tmp)):
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_airflow_dags_test_runs_the_night(demo_landing, postgres_metadata, tmp_path):
    """scripts/airflow-dags-test.sh runs the whole DAG for one date with the default Cosmos mode and a
    PostgreSQL metadata database: the night's outputs are under the --home given, PostgreSQL records a
    successful run whose every task succeeded, and the script's temporary AIRFLOW_HOME is gone afterwards.
    (The SQLite metadata database is covered by the airflow_env fixture's `airflow db migrate`.)"""
    import psycopg2

    url, dbname = postgres_metadata
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BULLSEYE_"))}  # the script's own
    env.update({"TMPDIR": str(tmp), "BULLSEYE_VENV": sys.prefix, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url})
    proc = subprocess.Popen([ROOT / "scripts" / "airflow-dags-test.sh", "--home", str(home), "2026-11-24",
                             str(demo_landing)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for stray in _airflow_processes(tmp):
            stray.kill()
    assert proc.returncode == 0, out[-4000:]
    assert (home / "published" / "bullseye.duckdb").exists()
    assert (home / "exports" / "2026-11-24" / "manifest.json").exists()
    assert list(tmp.iterdir()) == [], "the temporary Airflow home was left behind"
    with psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}") as conn, conn.cursor() as cur:
        cur.execute("SELECT state FROM dag_run WHERE dag_id = 'bullseye_nightly'")
        assert [r[0] for r in cur.fetchall()] == ["success"]
        cur.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'bullseye_nightly'")
        states = dict(cur.fetchall())
    conn.close()
    assert {"load", "identity", "commit"} <= set(states)
    assert any(t.startswith("build.") for t in states)
    assert set(states.values()) == {"success"}, {t: s for t, s in states.items() if s != "success"}
