"""Where a run reads and writes, for which date, and with which settings: the one settings path.

Paths and environment variables are read here only. Business settings (thresholds, windows,
caps) live in one place, the ``vars:`` of dbt_project/dbt_project.yml, documented there; Python
reads them with :func:`project_vars`, and :func:`dbt_vars` builds the vars a run passes to dbt,
for ``bullseye run`` and the Airflow DAG alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_CAMPAIGNS = PROJECT_ROOT / "campaigns"
WAREHOUSE_NAME = "bullseye.duckdb"


@dataclass
class RunConfig:
    landing: Path
    warehouse: Path
    as_of: date = field(default_factory=date.today)
    # Everything else lives beside the warehouse unless set.
    home: Path | None = None
    # Identity resolution mode: auto, incremental, full or retrain (bullseye.identity.resolver).
    identity_mode: str = "auto"
    # Campaign definitions and contact policy (campaigns/ in the repo unless set).
    campaigns: Path | None = None

    def __post_init__(self) -> None:
        self.landing = Path(self.landing).resolve()
        self.warehouse = Path(self.warehouse).resolve()
        if isinstance(self.as_of, str):
            self.as_of = date.fromisoformat(self.as_of)
        self.home = Path(self.home).resolve() if self.home else self.warehouse.parent
        env = os.environ.get("BULLSEYE_CAMPAIGNS", "")
        self.campaigns = Path(self.campaigns or env or DEFAULT_CAMPAIGNS).expanduser().resolve()

    @property
    def run_id(self) -> str:
        return f"{self.as_of.isoformat()}"

    @property
    def published(self) -> Path:
        """The read-only copy BI tools open (contract section 2)."""
        return self.home / "published" / self.warehouse.name

    @property
    def exports(self) -> Path:
        return self.home / "exports" / self.as_of.isoformat()

    @property
    def quality_dir(self) -> Path:
        return self.home / "quality"

    @property
    def dbt_target(self) -> Path:
        return self.home / "dbt_target"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def working_copy(warehouse: Path, as_of: object) -> Path:
    """The working copy a night runs on (bullseye.night): beside the warehouse, so that the
    commit is a rename, and under the same file name, so that DuckDB's catalog name stays."""
    return Path(warehouse).parent / ".nights" / str(as_of) / Path(warehouse).name


def default_home() -> Path:
    return Path(os.environ.get("BULLSEYE_HOME", PROJECT_ROOT / "var")).resolve()


# The secret salt of ID-card hashes and forget-list keys; without it a public default is used (and said).
ID_SALT_ENV = "BULLSEYE_ID_SALT"
PUBLIC_ID_SALT = "bullseye-demo-salt"


def id_salt() -> tuple[str, bool]:
    """The salt for ID-card hashes and forget-list keys, and whether it is the public default (env unset
    or empty). Only ever used as a bound parameter: never in SQL text, logs or dbt."""
    salt = os.environ.get(ID_SALT_ENV, "")
    return (salt, False) if salt else (PUBLIC_ID_SALT, True)


def compiled_manifest() -> Path:
    """dbt's compiled manifest (``bullseye dbt-manifest``): what the Airflow DAG renders, and where a
    Python step finds dbt's relations when its run has no manifest of its own ($BULLSEYE_DBT_MANIFEST)."""
    return Path(os.environ.get("BULLSEYE_DBT_MANIFEST", DBT_PROJECT_DIR / "target" / "manifest.json"))


def default_warehouse(home: Path | None = None) -> Path:
    """The warehouse a command uses when none is named: $BULLSEYE_WAREHOUSE (as the Airflow DAG and
    docker-compose set it), else <home>/warehouse/bullseye.duckdb."""
    env = os.environ.get("BULLSEYE_WAREHOUSE")
    return Path(env).resolve() if env else (home or default_home()) / "warehouse" / WAREHOUSE_NAME


def default_landing(home: Path | None = None) -> Path:
    """The landing zone the Airflow DAG reads: $BULLSEYE_LANDING, else the demo's under <home>."""
    env = os.environ.get("BULLSEYE_LANDING")
    return Path(env).resolve() if env else (home or default_home()) / "demo_landing"


COSMOS_MODES = ("local", "watcher")


def cosmos_mode() -> str:
    """How Cosmos runs dbt in the DAG ($BULLSEYE_COSMOS_MODE). ``local`` (default): one in-process dbt
    invocation per model, which runs anywhere, `airflow dags test` included. ``watcher``: one ``dbt build``
    with a sensor per model; the sensors defer to a triggerer, so only a deployment that runs one sets it
    (docker-compose.yml). Under `airflow dags test` watcher sensors wait forever for a producer that is never
    scheduled. Anything else is an error rather than a silent fallback."""
    mode = os.environ.get("BULLSEYE_COSMOS_MODE", "").strip().lower() or "local"
    if mode not in COSMOS_MODES:
        raise ValueError(f"BULLSEYE_COSMOS_MODE={mode!r}: use one of {', '.join(COSMOS_MODES)}")
    return mode


# What dbt builds before the identity step (dbt selection syntax; bullseye.identity.step), for
# `bullseye run` and the DAG alike.
IDENTITY_INPUTS = ("+int_identity__records", "+int_identity__edges", "identity_overrides")


@cache
def project_vars() -> dict[str, Any]:
    """The project's settings: the ``vars:`` of dbt_project.yml, each documented there."""
    doc = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(doc.get("vars") or {})


# The vars a run passes to dbt: the run date, and the run's choices that override the project's settings.
DBT_RUN_VARS = ("as_of", "identity_mode", "campaigns_dir")


def dbt_vars(cfg: RunConfig) -> dict[str, str]:
    """The vars a run passes to dbt (``bullseye run`` and the Airflow DAG both call this): the run date,
    which has no default on purpose, and the run's choices that override the project's settings."""
    values = {"as_of": cfg.as_of.isoformat(), "identity_mode": cfg.identity_mode, "campaigns_dir": str(cfg.campaigns)}
    return {k: values[k] for k in DBT_RUN_VARS}


AS_OF_MISSING = ("var as_of (the run date) is not set: run dbt with --vars '{as_of: YYYY-MM-DD}' "
                 "(bullseye run and the Airflow DAG set it)")


def run_date(value: object) -> date:
    """The run date a dbt Python model was given (its ``as_of`` config, ``var('as_of', '')``), or the same
    error the SQL models raise (macros/as_of.sql) when it was not: never some default night."""
    text = "" if value is None else str(value).strip()
    if not text or text == "None":
        raise ValueError(AS_OF_MISSING)
    return date.fromisoformat(text[:10])


def setting(name: str, cfg: RunConfig | None = None) -> Any:
    """One setting for a run: the run's own value (dbt_vars) when it has one, else the project's."""
    if cfg is not None and name in (run := dbt_vars(cfg)):
        return run[name]
    try:
        return project_vars()[name]
    except KeyError:
        raise KeyError(f"no setting {name!r} in {DBT_PROJECT_DIR / 'dbt_project.yml'} vars") from None
