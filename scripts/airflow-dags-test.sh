#!/usr/bin/env bash
# Run the bullseye_nightly DAG once, locally (`airflow dags test`), with a throw-away Airflow home.
# Usage: scripts/airflow-dags-test.sh [--home DIR] [RUN_DATE] [LANDING_DIR]
#   --home DIR   where the night writes (warehouse, publication, exports, logs); default $BULLSEYE_HOME,
#                else a new directory under $TMPDIR (kept and printed). Never the repository's var/.
#   RUN_DATE     the night's date (default today); LANDING_DIR default $BULLSEYE_LANDING, else
#                DIR/demo_landing (generated when missing).
# The metadata database is SQLite in the temporary Airflow home unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
# names another (PostgreSQL needs `pip install -e '.[postgres]'`, which `make install` does).
# The temporary Airflow home is removed on exit, failed or not. Cosmos runs in local mode (the default,
# bullseye.config.cosmos_mode): watcher mode needs a triggerer, which `airflow dags test` does not run.
# The virtualenv is $BULLSEYE_VENV, else the repository's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BIN=${BULLSEYE_VENV:-$REPO/.venv}/bin

home=${BULLSEYE_HOME:-}
if [ "${1:-}" = "--home" ]; then
  [ -n "${2:-}" ] || { echo "--home needs a directory" >&2; exit 2; }
  home=$2; shift 2
fi
RUN_DATE=${1:-$(date +%F)}
[ -n "$home" ] || home=$(mktemp -d "${TMPDIR:-/tmp}/bullseye-home.XXXXXX")
mkdir -p "$home"
export BULLSEYE_HOME=$(cd "$home" && pwd)
case "$BULLSEYE_HOME/" in
  "$REPO"/var/*) echo "refusing to write into the repository's var/ ($BULLSEYE_HOME): pass --home" >&2; exit 2 ;;
esac
export BULLSEYE_LANDING=${2:-${BULLSEYE_LANDING:-$BULLSEYE_HOME/demo_landing}}
export BULLSEYE_WAREHOUSE=${BULLSEYE_WAREHOUSE:-$BULLSEYE_HOME/warehouse/bullseye.duckdb}

AIRFLOW_HOME=$(mktemp -d "${TMPDIR:-/tmp}/bullseye-airflow.XXXXXX")
export AIRFLOW_HOME
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False BULLSEYE_COSMOS_MODE=${BULLSEYE_COSMOS_MODE:-local}
export BULLSEYE_DBT_MANIFEST=$AIRFLOW_HOME/dbt_target/manifest.json
export AIRFLOW__COSMOS__CACHE_DIR=$AIRFLOW_HOME/cosmos  # else $TMPDIR/cosmos, left behind
# Airflow logs every step at INFO; warnings and errors are enough here (INFO: set the variable).
export AIRFLOW__LOGGING__LOGGING_LEVEL=${AIRFLOW__LOGGING__LOGGING_LEVEL:-WARNING}

[ -d "$BULLSEYE_LANDING" ] || "$BIN/bullseye" demo-data --out "$BULLSEYE_LANDING" >/dev/null
"$BIN/bullseye" dbt-manifest --target "$AIRFLOW_HOME/dbt_target" >/dev/null
"$BIN/airflow" db migrate >/dev/null
echo "running bullseye_nightly for $RUN_DATE (a few minutes; task logs at INFO: AIRFLOW__LOGGING__LOGGING_LEVEL=INFO)"
"$BIN/airflow" dags test bullseye_nightly "$RUN_DATE"
echo "bullseye_nightly $RUN_DATE done; the night wrote under $BULLSEYE_HOME"
