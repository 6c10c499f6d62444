# The bullseye image for docker-compose.yml: the official Airflow image with the project installed once,
# at build time, with the project's pinned constraints (nothing is installed when a container starts).
# The tag's Airflow version is the one pinned in constraints.txt, and its Python the one pyproject.toml
# requires (tests/test_compose.py checks both).
#   docker compose build            (after changing the code, dbt models, campaigns or constraints)
FROM apache/airflow:3.3.2-python3.11

ENV AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False

USER root
RUN mkdir -p /opt/bullseye && chown airflow:0 /opt/bullseye
USER airflow
WORKDIR /opt/bullseye

# Dependencies first, in their own layer, so that a code change does not reinstall them. Installed editable
# (-e): the package finds dbt_project/, campaigns/ and expectations/ beside itself (bullseye.config
# PROJECT_ROOT), which a copy in site-packages would not. apache-airflow is named with the image's own
# version so that nothing can move it; the [postgres] extra brings what a PostgreSQL metadata database
# needs (asyncpg, psycopg2), and the [celery] extra the Celery provider, celery and redis for the workers of
# docker-compose.celery.yml. pip check fails the build on a conflict with what the image ships.
COPY --chown=airflow:0 pyproject.toml constraints.txt ./
COPY --chown=airflow:0 bullseye/__init__.py bullseye/__init__.py
RUN pip install --no-cache-dir -c constraints.txt "apache-airflow==${AIRFLOW_VERSION}" -e ".[postgres,celery]" \
    && pip check

# The project itself (.dockerignore keeps out the venv, var/, logs, .env and the tests), installed again
# without dependencies so that its metadata and entry points match the full tree.
COPY --chown=airflow:0 . .
RUN pip install --no-cache-dir --no-deps -e . \
    && bullseye dbt-manifest \
    && chmod -R g+rwX /opt/bullseye

# The DAG's paths (docker-compose.yml mounts the volumes they point into).
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/bullseye/dags
