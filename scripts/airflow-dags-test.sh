#!/usr/bin/env bash
# Run the bullseye_nightly DAG once, locally, with a throw-away Airflow home (SQLite).
# Usage: scripts/airflow-dags-test.sh [RUN_DATE] [LANDING_DIR]
# `airflow dags test` runs one task at a time, so it uses Cosmos' local mode; a deployed
# Airflow with a triggerer uses watcher mode (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DATE=${1:-$(date +%F)}
export BULLSEYE_LANDING=${2:-${BULLSEYE_LANDING:-$PWD/var/demo_landing}}
export AIRFLOW_HOME=$(mktemp -d)
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False BULLSEYE_COSMOS_MODE=local
export BULLSEYE_DBT_MANIFEST=$AIRFLOW_HOME/dbt_target/manifest.json
[ -d "$BULLSEYE_LANDING" ] || .venv/bin/bullseye demo-data --out "$BULLSEYE_LANDING"
.venv/bin/bullseye dbt-manifest --target "$AIRFLOW_HOME/dbt_target"
.venv/bin/airflow db migrate >/dev/null
.venv/bin/airflow dags test bullseye_nightly "$RUN_DATE"
