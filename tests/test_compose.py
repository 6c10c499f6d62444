"""docker-compose.yml cannot run here (no Docker engine): check what it names exists."""

from pathlib import Path

import yaml

from bullseye.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_paths_and_commands():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"} <= set(
        services)
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    mount = services["airflow-scheduler"]["volumes"][0]
    host, container = mount.split(":")
    assert (ROOT / host).resolve() == ROOT
    for key in ("AIRFLOW__CORE__DAGS_FOLDER",):
        rel = Path(env[key]).relative_to(container)
        assert (ROOT / rel).is_dir(), rel
    assert (ROOT / "constraints.txt").is_file()
    commands = " ".join(str(s.get("command", "")) for s in services.values())
    assert "constraints.txt" in commands
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    assert "bullseye dbt-manifest" in commands and "dbt-manifest" in subcommands
    for svc, word in [("airflow-apiserver", "api-server"), ("airflow-scheduler", "scheduler"),
                      ("airflow-dag-processor", "dag-processor")]:
        assert f"airflow {word}" in services[svc]["command"]
    assert services["airflow-scheduler"]["image"].startswith("apache/airflow:3.")
