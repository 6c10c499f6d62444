"""docker-compose.yml, the Dockerfile and .env.example, read as files: there is no Docker engine here to run them.

Each test names one thing a real Docker host needs (issue 17, item 7), after the official Airflow 3
docker-compose.yaml: an image built with the project's constraints instead of installs at start-up, one JWT
secret for every component, an init service that migrates, creates the admin user and hands the volumes to
AIRFLOW_UID, healthchecks and depends_on conditions, and volumes for logs, landing zone and warehouse that the
DAG's paths (bullseye.config) point into.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict] = COMPOSE["services"]
COMMON: dict = COMPOSE["x-airflow-common"]
# Airflow services: those built from the project's Dockerfile (x-airflow-common).
AIRFLOW = {name: s for name, s in SERVICES.items() if s.get("build") == COMMON["build"]}
# Long-running: everything but the one-off init and the on-demand cli (profiles).
LONG_RUNNING = {name: s for name, s in SERVICES.items() if name != "airflow-init" and not s.get("profiles")}
VAR_REF = re.compile(r"(?<!\$)\$\{(\w+)(?::?([-?])([^}]*))?\}")


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host path of a service's bind mounts."""
    return {m.rsplit(":", 1)[1]: m.rsplit(":", 1)[0] for m in service["volumes"]}


def _inside(path: str, folder: str) -> bool:
    return PurePosixPath(folder) in (PurePosixPath(path), *PurePosixPath(path).parents)


def test_dockerfile_installs_the_project_with_its_constraints_on_the_pinned_airflow():
    """The image is the official one for the Airflow version constraints.txt pins and the Python pyproject.toml
    requires (another tag would reinstall a different Airflow under the project), and the project goes in with
    `pip install -c constraints.txt`, with the [postgres] extra, at build time."""
    pins = dict(ln.split("==") for ln in (ROOT / "constraints.txt").read_text().split() if "==" in ln)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    python = re.search(r">=\s*(\d+\.\d+)", requires).group(1)
    steps = _dockerfile()
    assert steps[0] == ("FROM", f"apache/airflow:{pins['apache-airflow']}-python{python}")

    runs = [(i, args) for i, (kw, args) in enumerate(steps) if kw == "RUN"]
    installs = [(i, a) for i, a in runs if "pip install" in a and "-c constraints.txt" in a]
    assert installs, "no RUN pip install -c constraints.txt"
    i_install, install = installs[0]
    project = re.search(r"-e\s+\"?\.(\[[\w,-]+\])?\"?", install)
    assert project and "postgres" in (project.group(1) or ""), install
    assert "pip check" in install
    copied_before = " ".join(a for kw, a in steps[:i_install] if kw == "COPY")
    assert "constraints.txt" in copied_before and "pyproject.toml" in copied_before
    i_tree = next(i for i, (kw, a) in enumerate(steps) if kw == "COPY" and a.split()[-2:] == [".", "."])
    manifest = [i for i, a in runs if "bullseye dbt-manifest" in a]
    assert manifest and manifest[0] > i_tree, "the DAG's dbt manifest is compiled in the image, after the code"
    assert COMMON["build"] == "." and (ROOT / "Dockerfile").is_file()
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", "var/", ".git"} <= ignored, "secrets and local state stay out of the image"


def test_nothing_is_installed_when_a_container_starts():
    """The old file ran `pip install` in every service's command, with `restart: always`: each restart
    reinstalled the project. Now no command or entrypoint installs, _PIP_ADDITIONAL_REQUIREMENTS is empty,
    and every Airflow service runs the built image."""
    assert set(LONG_RUNNING) - {"postgres"} <= set(AIRFLOW)
    for name, svc in SERVICES.items():
        text = " ".join(str(svc.get(k, "")) for k in ("command", "entrypoint"))
        assert "pip install" not in text and "uv pip" not in text, name
        assert not (svc.get("environment") or {}).get("_PIP_ADDITIONAL_REQUIREMENTS"), name
    for name, svc in AIRFLOW.items():
        assert "image" not in svc or not svc["image"].startswith("apache/airflow"), name


def test_one_jwt_secret_and_fernet_key_for_every_component_from_env():
    """Without a shared AIRFLOW__API_AUTH__JWT_SECRET each component generates its own and every task fails
    with "Invalid auth token: Signature verification failed". The secret comes from .env, is required
    (`:?`, no built-in default that would be the same on every host), and every Airflow service gets it."""
    env_example = _env_example()
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        value = COMMON["environment"][key]
        ref = VAR_REF.fullmatch(value)
        assert ref and ref.group(1) == key and ref.group(2) == "?", value
        assert key in env_example and env_example[key] == "", f"{key}: a placeholder to fill in, not a secret"
        for name, svc in AIRFLOW.items():
            assert svc["environment"][key] == value, name


def test_every_setting_the_compose_file_reads_is_in_env_example():
    """A user copies .env.example to .env: every ${VAR} the compose file interpolates is listed there, and
    each required one (`:?`) is left empty so that an unfilled copy stops docker compose with its message."""
    env_example = _env_example()
    refs = VAR_REF.findall((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert refs
    for var, op, _ in refs:
        assert var in env_example, var
        if op == "?":
            assert env_example[var] == "", var
    assert "AIRFLOW_UID" in {v for v, op, _ in refs if op == "?"}


def test_airflow_init_migrates_creates_the_admin_and_hands_the_volumes_to_airflow_uid():
    """The other services run as AIRFLOW_UID on bind mounts that Docker creates as root: airflow-init runs as
    root, creates the mounted folders and chowns each to ${AIRFLOW_UID}:0, as the official file does; the
    image's entrypoint migrates and creates the admin user (it does so only with the FAB auth manager)."""
    init = SERVICES["airflow-init"]
    assert init["user"] == "0:0"
    env = init["environment"]
    assert env["_AIRFLOW_DB_MIGRATE"] == "true" and env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert VAR_REF.fullmatch(env["_AIRFLOW_WWW_USER_USERNAME"]).group(1) == "_AIRFLOW_WWW_USER_USERNAME"
    assert VAR_REF.fullmatch(env["_AIRFLOW_WWW_USER_PASSWORD"]).group(2) == "?", "no default admin password"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    script = init["command"][-1]
    assert "/entrypoint airflow" in script and "check-migrations" in script
    dirs = re.search(r'data_dirs="([^"]+)"', script).group(1).split()
    assert re.search(r'chown -R "\$\{AIRFLOW_UID\}:0" \$\$\{data_dirs\}', script)
    assert "mkdir" in script
    assert set(_mounts(COMMON)) <= set(dirs), "every mounted folder is created and handed over"
    assert init["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert COMMON["user"].startswith("${AIRFLOW_UID") and COMMON["user"].endswith(":0")


@pytest.mark.parametrize("name", ["postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                                  "airflow-triggerer"])
def test_long_running_services_have_healthchecks_and_start_in_order(name):
    """Each long-running service says when it is healthy; the Airflow ones start once PostgreSQL is healthy
    and airflow-init has completed successfully (so never on an unmigrated database or root-owned volumes)."""
    assert name in LONG_RUNNING
    svc = SERVICES[name]
    assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and len(svc["healthcheck"]["test"]) > 1
    if name != "postgres":
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_every_long_running_service_is_covered_and_the_scheduler_serves_its_health_check():
    """No long-running service without a healthcheck; the scheduler's check reads port 8974, which only
    answers with AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK; the scheduler (LocalExecutor: it runs the tasks)
    waits for a healthy api-server; watcher mode (the default here) has its triggerer."""
    for name, svc in LONG_RUNNING.items():
        assert "healthcheck" in svc, name
    assert "8974" in " ".join(SERVICES["airflow-scheduler"]["healthcheck"]["test"])
    # LocalExecutor: tasks run in the scheduler and report to the api-server, so it starts once that is healthy.
    assert COMMON["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert SERVICES["airflow-scheduler"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert COMMON["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    mode = VAR_REF.fullmatch(COMMON["environment"]["BULLSEYE_COSMOS_MODE"])
    assert mode.group(1) == "BULLSEYE_COSMOS_MODE" and mode.group(3) == "watcher"
    assert SERVICES["airflow-triggerer"]["command"] == "triggerer"


def test_volumes_hold_logs_landing_and_warehouse_and_the_dag_paths_point_into_them(monkeypatch):
    """With the compose file's environment, bullseye.config resolves the landing zone, the warehouse, its
    night working copies and every output (publication, exports, quality, logs) inside the mounted volumes:
    nothing a night writes is lost with the container, and the commit's rename stays on one filesystem."""
    from bullseye.config import RunConfig, default_home, default_landing, default_warehouse, working_copy

    mounts = _mounts(COMMON)
    assert "/opt/airflow/logs" in mounts, "Airflow's task logs ($AIRFLOW_HOME/logs)"
    env = COMMON["environment"]
    landing = next(c for c in mounts if _inside(env["BULLSEYE_LANDING"], c))
    warehouse_dir = next(c for c in mounts if _inside(env["BULLSEYE_WAREHOUSE"], c))
    assert len({landing, warehouse_dir, "/opt/airflow/logs"}) == 3
    for host in mounts.values():
        default = VAR_REF.fullmatch(host)
        assert default and default.group(1) in _env_example() and default.group(3).startswith("./var/"), host

    for key in ("BULLSEYE_LANDING", "BULLSEYE_HOME", "BULLSEYE_WAREHOUSE"):
        monkeypatch.setenv(key, env[key])
    cfg = RunConfig(landing=default_landing(), warehouse=default_warehouse(), home=default_home())
    assert _inside(str(cfg.landing), landing)
    for path in (cfg.warehouse, working_copy(cfg.warehouse, "2026-11-24"), cfg.published, cfg.exports,
                 cfg.quality_dir, cfg.logs, cfg.dbt_target):
        assert _inside(str(path), warehouse_dir), path
    assert (ROOT / PurePosixPath(env["AIRFLOW__CORE__DAGS_FOLDER"]).relative_to("/opt/bullseye")).is_dir()
    assert ("WORKDIR", "/opt/bullseye") in _dockerfile()


def test_readme_and_login_comment_say_how_to_deploy():
    """The README's section walks through build, init and up, and where files go; the compose file's login
    comment names the .env variables airflow-init creates the admin user from (the old one named a password
    that nothing printed)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying with Docker Compose", 1)[1].split("\n## ", 1)[0]
    for needed in ("cp .env.example .env", "docker compose build", "docker compose up airflow-init",
                   "docker compose up -d", "BULLSEYE_LANDING_DIR", "BULLSEYE_WAREHOUSE_DIR",
                   "BULLSEYE_COSMOS_MODE", "exports/"):
        assert needed in section, needed
    header = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").split("---", 1)[0]
    init_env = SERVICES["airflow-init"]["environment"]
    for var in ("_AIRFLOW_WWW_USER_USERNAME", "_AIRFLOW_WWW_USER_PASSWORD"):
        assert var in header and var in init_env


# --- the CeleryExecutor variant: docker-compose.celery.yml, an override of docker-compose.yml ---------------

CELERY_FILE = ROOT / "docker-compose.celery.yml"
CELERY = yaml.safe_load(CELERY_FILE.read_text(encoding="utf-8"))


def _merge(base, override):
    """What `docker compose -f docker-compose.yml -f docker-compose.celery.yml` makes of a service (the compose
    spec's merge rules for what the files use): mappings merge key by key, the override's scalars and
    sequences (command, healthcheck test) win, volumes merge by container path."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if key == "volumes" and key in base:
                merged[key] = [f"{h}:{c}" for c, h in {**_mounts(base), **_mounts(override)}.items()]
            else:
                merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


MERGED: dict[str, dict] = {name: _merge(SERVICES.get(name, {}), CELERY["services"].get(name, {}))
                           for name in {*SERVICES, *CELERY["services"]}}
CELERY_AIRFLOW = {name: s for name, s in MERGED.items() if s.get("build") == COMMON["build"]}
CELERY_LONG_RUNNING = {name: s for name, s in MERGED.items() if name != "airflow-init" and not s.get("profiles")}


def test_celery_variant_runs_every_airflow_service_with_celery_on_redis_and_postgres():
    """With both files every Airflow service (the worker too) runs the CeleryExecutor, with the Redis service as
    broker and the Celery result backend in the metadata database (the same PostgreSQL database as
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, with the psycopg2 driver it uses), and starts once Redis is healthy."""
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-init",
            "airflow-cli", "airflow-worker"} <= set(CELERY_AIRFLOW)
    assert set(SERVICES) <= set(MERGED), "an override: docker-compose.yml's services stay"
    for name, svc in CELERY_AIRFLOW.items():
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert re.fullmatch(r"redis://(:@)?redis:6379/\d+", env["AIRFLOW__CELERY__BROKER_URL"]), name
        backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
        assert backend == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert backend.startswith("db+postgresql+psycopg2://") and "@postgres:5432/" in backend, name
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name
    redis = MERGED["redis"]
    assert redis["image"].startswith("redis:") and "redis-cli" in redis["healthcheck"]["test"]


def test_celery_worker_runs_the_tasks_with_the_common_image_settings_and_volumes():
    """The worker is `celery worker` in the project's image with x-airflow-common's environment (plus the Celery
    settings), user and volumes: the landing zone, the warehouse folder (DuckDB file, its working copies and
    lock, a night's outputs) and the task logs are the same folders the other services see. Its tasks reach
    the api-server's Task SDK execution API, so it starts once that is healthy, and it signs with the same JWT
    secret. Its healthcheck pings its own Celery node."""
    worker = MERGED["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert worker["build"] == COMMON["build"] and worker["image"] == COMMON["image"]
    assert worker["user"] == COMMON["user"]
    assert _mounts(worker) == _mounts(COMMON)
    env = dict(worker["environment"])
    assert env.pop("DUMB_INIT_SETSID") == "0", "warm shutdown: the signal reaches celery, as in the official file"
    assert env == {**COMMON["environment"], **CELERY["x-celery-env"]}
    api = MERGED["airflow-apiserver"]
    url = env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert url == f"http://airflow-apiserver:{api['ports'][0].rsplit(':', 1)[1]}/execution/"
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    check = " ".join(worker["healthcheck"]["test"])
    assert worker["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "celery_executor.app inspect ping" in check and 'celery@$${HOSTNAME}' in check
    assert worker.get("restart") == "always"


def test_celery_variant_long_running_services_have_healthchecks_and_the_scheduler_keeps_its_own():
    """Every long-running service of the variant (Redis and the worker included) has a healthcheck; the
    scheduler keeps its health check server and its order after a healthy api-server."""
    assert {"redis", "airflow-worker"} <= set(CELERY_LONG_RUNNING)
    for name, svc in CELERY_LONG_RUNNING.items():
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and len(svc["healthcheck"]["test"]) > 1, name
        assert svc.get("restart") == "always", name
    scheduler = MERGED["airflow-scheduler"]
    assert "8974" in " ".join(scheduler["healthcheck"]["test"])
    assert scheduler["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_celery_variant_adds_no_secret_and_reads_only_settings_from_env_example():
    """The override holds no secret: JWT secret and Fernet key are the same required `${VAR:?}` references as in
    docker-compose.yml, every ${VAR} it reads is in .env.example, and the only credentials written in it are the
    metadata database's `airflow:airflow` of docker-compose.yml (and of the official file); Redis has none."""
    text = CELERY_FILE.read_text(encoding="utf-8")
    env_example = _env_example()
    refs = VAR_REF.findall(text)
    assert refs
    for var, op, _ in refs:
        assert var in env_example, var
        if op == "?":
            assert env_example[var] == "", var
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert MERGED["airflow-worker"]["environment"][key] == COMMON["environment"][key]
        assert key not in CELERY["x-celery-env"]
    credentials = set(re.findall(r"//([^/@\s]*)@", text))
    assert credentials <= {"airflow:airflow", ":"}, credentials
    assert "airflow:airflow@postgres" in COMMON["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert not re.search(r"(?i)(password|secret|token|key)\s*:\s*['\"]?[\w+/=-]{8,}", text)


def test_the_image_and_make_install_carry_the_celery_provider_pinned():
    """The workers run the project's image: the Dockerfile installs the [celery] extra (the Celery provider,
    celery and the redis client), which `make install` installs too, and constraints.txt pins them."""
    install = next(a for kw, a in _dockerfile() if kw == "RUN" and "-c constraints.txt" in a)
    extras = re.search(r"-e\s+\"?\.\[([\w,-]+)\]", install).group(1).split(",")
    assert {"postgres", "celery"} <= set(extras)
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"-e '\.\[[\w,]*celery[\w,]*\]'", make)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("apache-airflow-providers-celery") for r in project["optional-dependencies"]["celery"])
    pins = dict(ln.split("==") for ln in (ROOT / "constraints.txt").read_text().split() if "==" in ln)
    assert {"apache-airflow-providers-celery", "celery", "kombu", "redis"} <= set(pins)


def test_readme_says_how_to_run_the_celery_variant_and_the_kubernetes_settings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying with Docker Compose", 1)[1].split("\n## ", 1)[0]
    assert "-f docker-compose.yml -f docker-compose.celery.yml" in section
    k8s = readme.split("### KubernetesExecutor", 1)[1].split("\n## ", 1)[0]
    for needed in ("AIRFLOW__CORE__EXECUTOR: KubernetesExecutor", "pod_template_file", "ReadWriteMany",
                   "one writer", "EXECUTION_API_SERVER_URL", "JWT_SECRET"):
        assert needed in k8s, needed
