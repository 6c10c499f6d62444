"""Where a run reads and writes, for which date, and with which settings: the one settings path.

Paths and environment variables are read here only. Business settings (thresholds, windows,
caps) live in one place, the ``vars:`` of dbt_project/dbt_project.yml, documented there; Python
reads them with :func:`project_vars`, and :func:`dbt_vars` builds the vars a run passes to dbt,
for ``bullseye run`` and the Airflow DAG alike.
"""

from __future__ import annotations

import os
import re
import shutil
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
    # Everything else lives beside the warehouse unless set (home_of).
    home: Path | None = None
    # Identity resolution mode: auto, incremental, full or retrain (bullseye.identity.resolver).
    identity_mode: str = "auto"
    # Campaign definitions and contact policy (campaigns/ in the repo unless set).
    campaigns: Path | None = None
    # Rebuild the incremental models in full (dbt --full-refresh; dbt_project/macros/incremental.sql).
    full_refresh: bool = False

    def __post_init__(self) -> None:
        self.landing = Path(self.landing).resolve()
        self.warehouse = Path(self.warehouse).resolve()
        if isinstance(self.as_of, str):
            self.as_of = date.fromisoformat(self.as_of)
        self.home = Path(self.home).resolve() if self.home else home_of(self.warehouse)
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


DEMO_HOME = PROJECT_ROOT / "var"  # the demo's home (`make demo`, `bullseye run` without paths)
HOME_ENV, WAREHOUSE_ENV = "BULLSEYE_HOME", "BULLSEYE_WAREHOUSE"


def default_home() -> Path:
    """The home of a command given no paths at all (the DAG's too): :func:`resolve_paths` of the environment."""
    return resolve_paths()[0]


def home_of(warehouse: Path) -> Path:
    """Where everything a run on ``warehouse`` writes goes when no home is named: beside it (contract §3),
    so that two warehouses in two folders share no file and no quality context. A warehouse in a folder
    called ``warehouse`` is the layout a home makes (``<home>/warehouse/bullseye.duckdb``): its home is
    the folder above, so that ``--warehouse var/warehouse/bullseye.duckdb`` is the demo's home again."""
    folder = Path(warehouse).expanduser().resolve().parent
    return folder.parent if folder.name == "warehouse" else folder


def resolve_paths(home: str | Path | None = None, warehouse: str | Path | None = None) -> tuple[Path, Path]:
    """The (home, warehouse) of a command, the same for `bullseye run`, forget, subject-access, identity and
    the Airflow DAG. The command line first, then the environment, then the demo's ``var/``; at each of
    these levels:

    - a home and a warehouse: both as given;
    - a home only: its own warehouse, ``<home>/warehouse/bullseye.duckdb``;
    - a warehouse only: its home is beside it (:func:`home_of`), never the repo's ``var/``.

    Levels do not mix: ``--warehouse`` alone ignores $BULLSEYE_HOME (else a second warehouse would write
    into the first one's home and share its GE context), and ``--home`` alone ignores $BULLSEYE_WAREHOUSE
    (else a trial run in another home would write the production warehouse)."""
    if not (home or warehouse):
        home, warehouse = os.environ.get(HOME_ENV) or None, os.environ.get(WAREHOUSE_ENV) or None
    if not (home or warehouse):
        home = DEMO_HOME
    wh = Path(warehouse).expanduser().resolve() if warehouse else None
    root = Path(home).expanduser().resolve() if home else home_of(wh)
    return root, wh or root / "warehouse" / WAREHOUSE_NAME


HOME_MARKER = ".bullseye-home"  # in a home: the one warehouse whose outputs it holds


class HomeTaken(Exception):
    """The home already holds the outputs of another warehouse."""


def claim_home(home: Path, warehouse: Path) -> None:
    """Make ``home`` the home of ``warehouse``, or refuse when it holds another warehouse's outputs: two
    warehouses in one home would overwrite each other's publication and exports and share one GE context
    (whose suites then fail its freshness check). The warehouse is recorded relative to the home when it
    lies inside, so a home mounted elsewhere (docker-compose's /opt/bullseye/var) is still the same home."""
    home, warehouse = Path(home).resolve(), Path(warehouse).resolve()
    key = str(warehouse.relative_to(home)) if warehouse.is_relative_to(home) else str(warehouse)
    marker = home / HOME_MARKER
    if marker.is_file():
        held = marker.read_text(encoding="utf-8").strip()
        if held and held != key:
            raise HomeTaken(f"{home} holds the outputs of the warehouse {held}, not {warehouse}: give this "
                            f"warehouse its own --home (or its own folder)")
        return
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n", encoding="utf-8")


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
    """The warehouse of ``home`` (:func:`resolve_paths`); with no home, or the environment's home, the
    environment's warehouse ($BULLSEYE_WAREHOUSE, as the Airflow DAG and docker-compose set it) or the demo's."""
    env_home, env_warehouse = resolve_paths()
    if home is None or Path(home).expanduser().resolve() == env_home:
        return env_warehouse
    return resolve_paths(home)[1]


def default_landing(home: Path | None = None) -> Path:
    """The landing zone the Airflow DAG reads: $BULLSEYE_LANDING, else the demo's under <home>."""
    env = os.environ.get("BULLSEYE_LANDING")
    return Path(env).resolve() if env else (home or default_home()) / "demo_landing"


# DuckDB's memory and threads: from the machine unless set. DuckDB spills what does not fit under its limit to
# a temp directory beside the warehouse, so a night's memory is bounded by this setting, not by the data.
MEMORY_LIMIT_ENV = "BULLSEYE_DUCKDB_MEMORY_LIMIT"  # e.g. 8GB; default: DUCKDB_MEMORY_SHARE of the machine's RAM
THREADS_ENV = "BULLSEYE_DUCKDB_THREADS"  # default: the CPUs this process may use
DUCKDB_MEMORY_SHARE = 0.35  # the rest: Python (dbt, pandas, PyMC: about 2.5 GB at scale 100), page cache, BI


# What DuckDB may spill to disk (its max_temp_directory_size). DuckDB's own default is 90% of the free disk, so
# one query that spills without end fills a disk the machine shares; here it is a share of the free space where
# it spills, taken when the connection opens. A query that needs more fails naming the setting.
SPILL_LIMIT_ENV = "BULLSEYE_DUCKDB_SPILL_LIMIT"  # e.g. 40GB; default: DUCKDB_SPILL_SHARE of that free space
DUCKDB_SPILL_SHARE = 0.5


MIN_DUCKDB_MEMORY = 256 * 2**20  # below this DuckDB cannot run a night's queries at all
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _machine_memory_bytes() -> int:
    """The RAM this process may use: the machine's, or less where a cgroup (a container) limits it."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _size_bytes(text: str) -> int | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text.strip().lower())
    if not match or match.group(2) not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def duckdb_limits() -> tuple[str, int]:
    """(memory_limit, threads) for every DuckDB connection of a night: $BULLSEYE_DUCKDB_MEMORY_LIMIT and
    $BULLSEYE_DUCKDB_THREADS, else DUCKDB_MEMORY_SHARE of the RAM this process may use and its usable CPUs.
    The limit holds per database file opened (a night has one open at a time). A value DuckDB cannot use is
    an error, not a silent default."""
    memory = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not memory:
        memory = f"{int(_machine_memory_bytes() * DUCKDB_MEMORY_SHARE / 2**20)}MiB"
    else:
        size = _size_bytes(memory)
        if size is None:
            raise ValueError(f"{MEMORY_LIMIT_ENV}={memory!r}: write a size such as 8GB or 4096MiB")
        if size < MIN_DUCKDB_MEMORY:
            raise ValueError(f"{MEMORY_LIMIT_ENV}={memory!r}: at least 256MiB, or DuckDB cannot run the night")
    threads_text = os.environ.get(THREADS_ENV, "").strip()
    if threads_text:
        if not threads_text.isdigit() or int(threads_text) < 1:
            raise ValueError(f"{THREADS_ENV}={threads_text!r}: write a whole number of threads, 1 or more")
        threads = int(threads_text)
    else:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return memory, threads


def _free_disk_bytes(folder: Path) -> int:
    """Free space on the file system of ``folder``, or of its nearest existing parent (DuckDB makes its temp
    directory only when it first spills)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def duckdb_spill_limit(temp_directory: Path) -> str:
    """max_temp_directory_size for a connection spilling to ``temp_directory``: $BULLSEYE_DUCKDB_SPILL_LIMIT, else
    DUCKDB_SPILL_SHARE of the free disk there. A value DuckDB cannot use is an error, not a silent default."""
    text = os.environ.get(SPILL_LIMIT_ENV, "").strip()
    if not text:
        return f"{int(_free_disk_bytes(temp_directory) * DUCKDB_SPILL_SHARE / 2**20)}MiB"
    if _size_bytes(text) is None:
        raise ValueError(f"{SPILL_LIMIT_ENV}={text!r}: write a size such as 40GB or 4096MiB")
    return text


# Which output of dbt_project/profiles.yml dbt builds on ($BULLSEYE_DBT_TARGET): "local", DuckDB (the default, the
# night), or "spark", a local Spark session through dbt-spark (issue 18; bullseye.spark drives it, with the
# optional extra `pip install -e '.[spark]'`). Anything else is an error rather than a silent fallback.
DBT_TARGET_ENV = "BULLSEYE_DBT_TARGET"
DBT_TARGETS = ("local", "spark")


def dbt_target_name() -> str:
    """The profile output dbt builds on: ``local`` (DuckDB) unless $BULLSEYE_DBT_TARGET says ``spark``."""
    name = os.environ.get(DBT_TARGET_ENV, "").strip().lower() or "local"
    if name not in DBT_TARGETS:
        raise ValueError(f"{DBT_TARGET_ENV}={name!r}: use one of {', '.join(DBT_TARGETS)}")
    return name


# The local Spark session of the spark target (bullseye.spark). Its files (the raw tables exported to Parquet,
# the Spark warehouse of the tables dbt builds, the Derby metastore) go under $BULLSEYE_SPARK_DIR, else
# <home>/spark: never the repo. $BULLSEYE_SPARK_MASTER is the master (local[2] on a small machine).
SPARK_DIR_ENV = "BULLSEYE_SPARK_DIR"
SPARK_MASTER_ENV = "BULLSEYE_SPARK_MASTER"
SPARK_SHUFFLE_PARTITIONS = 4  # few cores, little data per night: Spark's default 200 tasks per shuffle are overhead


def spark_dir(home: Path) -> Path:
    """Where the spark target's files go: $BULLSEYE_SPARK_DIR, else ``<home>/spark``."""
    env = os.environ.get(SPARK_DIR_ENV, "").strip()
    return Path(env).expanduser().resolve() if env else Path(home).resolve() / "spark"


def spark_conf(root: Path) -> dict[str, str]:
    """The Spark session's settings (bullseye.spark.session): one place for each of them."""
    root = Path(root).resolve()
    return {
        "spark.master": os.environ.get(SPARK_MASTER_ENV, "").strip() or "local[2]",
        "spark.app.name": "bullseye",
        "spark.sql.shuffle.partitions": str(SPARK_SHUFFLE_PARTITIONS),
        "spark.default.parallelism": str(SPARK_SHUFFLE_PARTITIONS),
        "spark.sql.session.timeZone": "UTC",
        # timestamps are wall-clock, as DuckDB's TIMESTAMP: `timestamp` and cast(x as timestamp) mean TIMESTAMP_NTZ
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.sql.catalogImplementation": "hive",  # dbt-spark's session mode enables Hive support
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / 'derby'}",
        "spark.local.dir": str(root / "tmp"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        **_splink_jar(),
    }


def _splink_jar() -> dict[str, str]:
    """Splink's similarity functions for Spark, a jar inside the installed splink package (nothing is
    downloaded): damerau_levenshtein for the match model's card and postcode levels. (Its jaro_winkler is not
    used: it differs from DuckDB's; see bullseye.identity.spark_match.)"""
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:  # no splink or no pyspark: no Spark identity matching, nothing to add
        return {}
    jar = Path(similarity_jar_location())
    return {"spark.jars": str(jar)} if jar.is_file() else {}


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
# How `bullseye run` gives dbt the run date instead (bullseye.transform.run_dbt): read only while dbt executes
# (macros/as_of.sql under `execute`, :func:`run_date` in the Python models), never while it parses. A var is in
# dbt's partial-parse state (its vars hash): a run date passed as a var made every night parse the whole project
# again; this variable is not, and nothing parsed depends on it, so a later night reuses the parse and still
# builds with its own date. A var as_of, when given (the Airflow DAG, the dbt unit tests' overrides, by hand),
# comes first.
RUN_DATE_ENV = "BULLSEYE_RUN_DATE"


def dbt_vars(cfg: RunConfig) -> dict[str, str]:
    """The vars a run passes to dbt (the Airflow DAG calls this): the run date, which has no default on purpose,
    and the run's choices that override the project's settings. ``bullseye run`` passes :func:`dbt_parse_vars`
    and the run date in $BULLSEYE_RUN_DATE."""
    values = {"as_of": cfg.as_of.isoformat(), "identity_mode": cfg.identity_mode, "campaigns_dir": str(cfg.campaigns)}
    return {k: values[k] for k in DBT_RUN_VARS}


def dbt_parse_vars(cfg: RunConfig) -> dict[str, str]:
    """The vars ``bullseye run`` passes to dbt: :func:`dbt_vars` without the run date (:data:`RUN_DATE_ENV`), so
    that they stay the same from one night to the next and dbt's partial parse of the last night is reused."""
    return {k: v for k, v in dbt_vars(cfg).items() if k != "as_of"}


AS_OF_MISSING = ("var as_of (the run date) is not set: run dbt with --vars '{as_of: YYYY-MM-DD}' "
                 "(bullseye run and the Airflow DAG set it)")


def run_date(value: object) -> date:
    """The run date a dbt Python model was given: its ``as_of`` config (``var('as_of', '')``, rendered when dbt
    parsed, with this invocation's vars: a change of vars makes dbt parse again), else $BULLSEYE_RUN_DATE as it is
    now, while the model runs (how `bullseye run` passes it: :data:`RUN_DATE_ENV`). Neither: the same error the
    SQL models raise (macros/as_of.sql), never some default night."""
    text = "" if value is None else str(value).strip()
    if not text or text == "None":
        text = os.environ.get(RUN_DATE_ENV, "").strip()
    if not text:
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
