"""Run the dbt project in-process (dbtRunner): one dbt start-up for the whole build."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bullseye.config import (
    DBT_PROJECT_DIR,
    RUN_DATE_ENV,
    RunConfig,
    compiled_manifest,
    dbt_parse_vars,
    dbt_target_name,
)
from bullseye.warehouse import limit_hint, release_dbt_connection


class TransformError(RuntimeError):
    """dbt failed; the message lists the failing models and tests."""


@dataclass
class NodeResult:
    name: str
    resource_type: str
    status: str
    message: str
    seconds: float


def dbt_warehouse(cfg: RunConfig) -> Path:
    """The path dbt opens the run's warehouse by: ``<home>/dbt_target/warehouse/<name>``, a folder link to the
    warehouse's own folder (:func:`_dbt_env`). The path is in dbt's partial-parse state (the profile's
    connection keys): a night's working copy (``.nights/<as_of>/<name>``) made every night parse the whole project
    again; through the link it is the same every night of a home. The file name, hence DuckDB's catalog name,
    is the warehouse's, and DuckDB writes its .wal and .tmp beside the real file."""
    return cfg.dbt_target / "warehouse" / cfg.warehouse.name


@contextmanager
def _dbt_env(cfg: RunConfig):
    """The environment of a dbt invocation on ``cfg.warehouse``: the profile's $BULLSEYE_WAREHOUSE, through the
    home's link (:func:`dbt_warehouse`), which only this invocation may point while it runs: one dbt at a time
    per home (a lock beside the link; a second waits). The link is removed afterwards. No run date: run_dbt
    adds it."""
    link = dbt_warehouse(cfg).parent
    link.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(link.with_name(".warehouse.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        tmp = link.with_name(f".warehouse.{os.getpid()}")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(cfg.warehouse.parent, tmp, target_is_directory=True)
        os.replace(tmp, link)  # atomic; replaces a link a killed run left
        saved = {k: os.environ.get(k) for k in ("BULLSEYE_WAREHOUSE", "DBT_SEND_ANONYMOUS_USAGE_STATS")}
        os.environ["BULLSEYE_WAREHOUSE"] = str(dbt_warehouse(cfg))
        os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
        try:
            yield
        finally:
            _restore(saved)
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
    finally:
        os.close(fd)  # releases the lock


def _restore(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextmanager
def _run_date_env(cfg: RunConfig):
    """$BULLSEYE_RUN_DATE for one dbt invocation: how dbt gets the run date (bullseye.config.RUN_DATE_ENV)."""
    saved = {RUN_DATE_ENV: os.environ.get(RUN_DATE_ENV)}
    os.environ[RUN_DATE_ENV] = cfg.as_of.isoformat()
    try:
        yield
    finally:
        _restore(saved)


def dbt_args(cfg: RunConfig, command: str, *extra: str) -> list[str]:
    # the profile's default output (local, DuckDB) unless $BULLSEYE_DBT_TARGET names another (bullseye.spark)
    target = dbt_target_name()
    return [command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(cfg.dbt_target), "--log-path", str(cfg.logs),
            "--vars", json.dumps(dbt_parse_vars(cfg)),
            *(["--target", target] if target != "local" else []),
            *(["--full-refresh"] if cfg.full_refresh and command in ("build", "run") else []),
            "--quiet", *extra]


def run_dbt(cfg: RunConfig, command: str = "build", *extra: str) -> list[NodeResult]:
    """Run one dbt command; raise TransformError naming every failed node."""
    from dbt.cli.main import dbtRunner

    cfg.logs.mkdir(parents=True, exist_ok=True)
    with _dbt_env(cfg), _run_date_env(cfg):
        try:
            # dbt's threads silence warnings with catch_warnings, which is not thread-safe: a blanket
            # "ignore" can leak into the process; keep the process's filters as they were
            with warnings.catch_warnings():
                res = dbtRunner().invoke(dbt_args(cfg, command, *extra))
        finally:
            release_dbt_connection()
    nodes = []
    for r in (res.result or []) if hasattr(res.result, "__iter__") else []:
        node = getattr(r, "node", None)
        if node is None:
            continue
        nodes.append(NodeResult(node.name, node.resource_type, str(r.status), r.message or "",
                                r.execution_time or 0.0))
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    if failed or not res.success:
        detail = "\n".join(f"  - {n.resource_type} {n.name}: {n.status}: {n.message}" for n in failed)
        if not detail and res.exception:
            detail = f"  {res.exception}"
        raise TransformError(f"dbt {command} failed (logs in {cfg.logs}):\n{detail}{limit_hint(detail)}")
    return nodes


def dbt_list(cfg: RunConfig, *extra: str) -> list[str]:
    """The unique ids ``dbt ls`` selects (``extra``: --select ... and its other options), with the run's target;
    it writes the manifest of that target to ``cfg.dbt_target`` (bullseye.spark plans its stages from it)."""
    from dbt.cli.main import dbtRunner

    cfg.logs.mkdir(parents=True, exist_ok=True)
    with _dbt_env(cfg), _run_date_env(cfg):
        try:
            with warnings.catch_warnings():
                # the ids come back in res.result; ls prints each to stdout even with --quiet, unless the
                # stdout log level is none (a failure still comes back in res.exception)
                res = dbtRunner().invoke(dbt_args(cfg, "ls", "--output", "json", "--output-keys", "unique_id",
                                                  "--log-level", "none", *extra))
        finally:
            release_dbt_connection()
    if not res.success:
        raise TransformError(f"dbt ls failed (logs in {cfg.logs}): {res.exception}")
    return [json.loads(line)["unique_id"] for line in res.result or []]


def manifest_path(cfg: RunConfig) -> Path:
    """The manifest of the run's last dbt command, else the compiled one (a run under Airflow, where
    Cosmos runs dbt elsewhere). Either gives the same relations: schemas come from the project."""
    own = cfg.dbt_target / "manifest.json"
    return own if own.exists() else compiled_manifest()


def _nodes(manifest: Path) -> dict:
    return json.loads(Path(manifest).read_text(encoding="utf-8"))["nodes"]


def relations(manifest: Path, names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """schema.table of each named model, seed or snapshot, as dbt's manifest says: Python steps that
    read what dbt built find it here, never by a hand-written name. The catalog is left out: it is the
    warehouse file the connection opened (a night's working copy has the warehouse's file name)."""
    found = {n["name"]: f'{n["schema"]}.{n.get("alias") or n["name"]}' for n in _nodes(manifest).values()
             if n["resource_type"] in ("model", "seed", "snapshot") and n["name"] in names}
    missing = sorted(set(names) - set(found))
    if missing:
        raise TransformError(f"dbt manifest {manifest} has no model {', '.join(missing)}")
    return found


def buildable_except(manifest: Path, built: set[str]) -> list[str]:
    """Every model, seed and snapshot of the project but those already built: the selection of the
    build after the identity step. Named one by one (not --exclude) so that a test between a node of each
    part still runs, once both are built."""
    return sorted(n["name"] for n in _nodes(manifest).values()
                  if n["resource_type"] in ("model", "seed", "snapshot") and n["name"] not in built
                  and n["package_name"] == "bullseye")


def compile_manifest(target: Path) -> Path:
    """Write dbt's manifest.json for Cosmos (parse only; no warehouse needed)."""
    from dbt.cli.main import dbtRunner

    res = dbtRunner().invoke(["parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                              str(DBT_PROJECT_DIR), "--target-path", str(target), "--quiet"])
    if not res.success:
        raise TransformError(f"dbt parse failed: {res.exception}")
    return target / "manifest.json"


# --- incremental models (dbt_project/macros/incremental.sql) ----------------------------------

WATERMARK_PREFIX = '{"bullseye_watermark"'


def incremental_watermarks(con) -> dict[str, dict]:
    """The watermark each incremental model's table holds (schema.table -> its JSON), read from the tables'
    comments, where the models' post-hook writes it."""
    rows = con.execute("SELECT schema_name || '.' || table_name, comment FROM duckdb_tables() "
                       "WHERE starts_with(comment, ?) ORDER BY 1", [WATERMARK_PREFIX]).fetchall()
    return {name: json.loads(comment)["bullseye_watermark"] for name, comment in rows}


def incremental_notes(before: dict[str, dict], after: dict[str, dict], as_of: str, asked: bool,
                      first_night: bool) -> list[str]:
    """What the run summary says about incremental models that tonight rebuilt in full, and why: a full
    rebuild costs a whole night's time, and a data engineer should know it was not a slip. The first night
    of a new warehouse says nothing (every model is new)."""
    if first_night and not asked:
        return []
    why: dict[str, list[str]] = {}
    for name, w in after.items():
        if w.get("built") != "full":
            continue
        old = before.get(name)
        if asked:
            reason = "--full-refresh asked for it"
        elif old is None:
            reason = "it had no watermark (a table from before incremental models)"
        elif str(old.get("as_of", "")) > as_of:
            reason = f"a backfill: the table held nights up to {old['as_of']}"
        elif old.get("code") != w.get("code"):
            reason = "its SQL or the normalizers (bz_rules_version) changed since its last build"
        else:
            reason = "dbt rebuilt it"
        why.setdefault(reason, []).append(name.split(".", 1)[-1])
    return [f"incremental models rebuilt in full ({reason}): {', '.join(names)}" for reason, names in why.items()]
