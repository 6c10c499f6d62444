"""A night is a transaction: its state is written only when the whole night succeeds.

Each night runs on a *working copy* of the warehouse (``<warehouse dir>/.nights/<as_of>/<name>``):
the load step copies the committed warehouse there, and load, build, check, publish and export
all read and write that copy. Nothing the night writes (deliveries, identity registry and
journal, target lists, lifecycle history) reaches the committed warehouse until the last step,
``commit``, which swaps in, each with an atomic rename:

1. the night's export folder (``exports/<as_of>``, written beside it by the export step),
2. the warehouse itself (the working copy, checkpointed, replaces the committed file),
3. the publication for BI (prepared beside it by the publish step).

So a night that fails or is killed at any step leaves the committed warehouse, the last
publication and the earlier export folders exactly as they were, and running it again starts
from the same state: the re-run gives the marts and exports of a clean night.

A *backfill* (a night older than the latest committed one) runs the same way, but its commit
never touches the warehouse or the publication: later nights were computed without it, and a
backfill must not change them. Its exports are written, and its warehouse is kept for
inspection under ``<home>/backfills/<as_of>/``. The summary says so.

Only one run may write a warehouse at a time: :func:`night_lock` takes an exclusive lock on
``<warehouse>.lock``, and a second run exits at once with a message naming the holder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from bullseye.config import RunConfig, working_copy
from bullseye.warehouse import connect

log = logging.getLogger(__name__)

NIGHTS_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.nights (
    as_of DATE, kind VARCHAR, started_at TIMESTAMP, committed_at TIMESTAMP, summary VARCHAR);
CREATE TABLE IF NOT EXISTS meta.night_progress (as_of DATE, step VARCHAR, finished_at TIMESTAMP);
"""


class NightError(RuntimeError):
    """The night cannot go on (no night in progress, another run holds the warehouse...)."""


class WarehouseBusy(NightError):
    """Another run holds the warehouse's lock."""


# --- where a night's files live -------------------------------------------------------------

def working_dir(warehouse: Path, as_of: date | str) -> Path:
    """Folder of the night's working copy (config.working_copy)."""
    return working_copy(warehouse, as_of).parent


def working_config(cfg: RunConfig) -> RunConfig:
    """The run's settings pointed at the night's working copy (home and paths unchanged)."""
    return dataclasses.replace(cfg, warehouse=working_copy(cfg.warehouse, cfg.as_of), home=cfg.home)


def staging_dir(cfg: RunConfig) -> Path:
    """Outputs of the night in progress, out of sight of the folders marketers and BI read."""
    return cfg.home / ".staging" / cfg.as_of.isoformat()


def staged_exports(cfg: RunConfig) -> Path:
    """Where the export step writes; the commit swaps it into ``exports/<as_of>``."""
    return staging_dir(cfg) / "exports"


def staged_publication(cfg: RunConfig) -> Path:
    """Where the publish step prepares the BI copy; the commit swaps it into place."""
    return staging_dir(cfg) / "published" / cfg.published.name


def backfill_dir(cfg: RunConfig) -> Path:
    return cfg.home / "backfills" / cfg.as_of.isoformat()


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


# --- one writer at a time -------------------------------------------------------------------

@contextlib.contextmanager
def night_lock(cfg: RunConfig, what: str = "run", wait: bool = False) -> Iterator[None]:
    """Hold the warehouse's exclusive lock; raise WarehouseBusy at once when another run has it
    (or block until it is free with ``wait``). The lock dies with its process: a killed run
    never leaves a stale lock behind."""
    path = lock_path(cfg.warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
            raise WarehouseBusy(f"{cfg.warehouse} is in use by {holder}; this {what} did nothing. Wait for it "
                                f"to finish (or stop it), then run again.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"bullseye {what} of night {cfg.as_of} (pid {os.getpid()}, started "
                      f"{datetime.now():%Y-%m-%d %H:%M:%S})".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --- failure injection ----------------------------------------------------------------------

def failpoint(name: str) -> None:
    """Kill this process outright at a named point when ``BULLSEYE_FAILPOINT`` names it.

    The failure-injection tests use it to prove that a night killed at any step leaves no
    trace; it costs one environment lookup otherwise."""
    if os.environ.get("BULLSEYE_FAILPOINT") == name:
        log.warning("failpoint %s: killing the process", name)
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


# --- the night's life cycle -----------------------------------------------------------------

def latest_committed(warehouse: Path) -> date | None:
    """The newest night committed to ``warehouse`` (None for a new warehouse).

    A warehouse written before nights were recorded (no ``meta.nights``) is judged by the newest
    night its identity state holds, so that a backfill on it cannot replace later nights either."""
    if not warehouse.exists():
        return None
    con = connect(warehouse, read_only=True)
    try:
        tables = {r[0] for r in con.execute("""SELECT schema_name || '.' || table_name FROM duckdb_tables()
            WHERE (schema_name, table_name) IN (('meta', 'nights'), ('identity', 'runs'))""").fetchall()}
        if "meta.nights" in tables:
            return con.execute("SELECT max(as_of) FROM meta.nights WHERE kind = 'night'").fetchall()[0][0]
        if "identity.runs" in tables:
            return con.execute("SELECT max(as_of) FROM identity.runs").fetchall()[0][0]
        return None
    finally:
        con.close()


def begin(cfg: RunConfig) -> Path:
    """Start the night afresh: copy the committed warehouse to the working copy.

    Whatever an earlier, failed attempt at this night left behind is discarded first, so a
    re-run starts from exactly the committed state. Returns the working copy."""
    work = working_copy(cfg.warehouse, cfg.as_of)
    acks = _acks(work, cfg.as_of)  # a reviewer's drift acknowledgement survives a re-run of the night
    discard(cfg)
    work.parent.mkdir(parents=True, exist_ok=True)
    if cfg.warehouse.exists():
        tmp = work.with_name(work.name + ".copying")
        shutil.copyfile(cfg.warehouse, tmp)
        wal = cfg.warehouse.with_name(cfg.warehouse.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, tmp.with_name(tmp.name + ".wal"))
            os.replace(tmp.with_name(tmp.name + ".wal"), work.with_name(work.name + ".wal"))
        os.replace(tmp, work)
    latest = latest_committed(cfg.warehouse)
    kind = "backfill" if latest is not None and latest > cfg.as_of else "night"
    (work.parent / "base.json").write_text(json.dumps(_fingerprint(cfg.warehouse)), encoding="utf-8")
    con = connect(work)
    try:
        con.execute(NIGHTS_DDL)
        con.execute("DELETE FROM meta.night_progress")
        con.execute("INSERT INTO meta.night_progress VALUES (?, 'begin:' || ?, now())", [cfg.as_of, kind])
        if acks:
            from bullseye.identity import state

            state.ensure(con)
            con.execute("DELETE FROM identity.acks WHERE as_of = ?", [cfg.as_of])
            con.executemany("INSERT INTO identity.acks VALUES (?, ?, ?, ?)", acks)
    finally:
        con.close()
    return work


def _acks(work: Path, as_of: date) -> list[tuple]:
    """Drift acknowledgements of ``as_of`` recorded in an earlier attempt's working copy."""
    if not work.exists():
        return []
    try:
        con = connect(work, read_only=True)
    except Exception:  # noqa: BLE001 - a killed attempt's copy may be unreadable; then there is nothing to keep
        return []
    try:
        return con.execute("SELECT * FROM identity.acks WHERE as_of = ?", [as_of]).fetchall()
    except Exception:  # noqa: BLE001 - no identity schema yet
        return []
    finally:
        con.close()


def require(cfg: RunConfig, step: str) -> Path:
    """The working copy of a night in progress, or a clear error when there is none."""
    work = working_copy(cfg.warehouse, cfg.as_of)
    if not work.exists():
        raise NightError(f"no night {cfg.as_of} in progress for {cfg.warehouse}: the {step} step needs the "
                         f"load step first (`bullseye run --as-of {cfg.as_of}` runs the whole night)")
    return work


def mark(cfg: RunConfig, step: str) -> None:
    """Record in the working copy that a step of the night finished."""
    con = connect(working_copy(cfg.warehouse, cfg.as_of))
    try:
        con.execute(NIGHTS_DDL)
        con.execute("DELETE FROM meta.night_progress WHERE step = ?", [step])
        con.execute("INSERT INTO meta.night_progress VALUES (?, ?, now())", [cfg.as_of, step])
    finally:
        con.close()


def progress(work: Path) -> tuple[str, set[str]]:
    """(kind, finished steps) of the night in a working copy."""
    con = connect(work, read_only=True)
    try:
        steps = {r[0] for r in con.execute("SELECT step FROM meta.night_progress").fetchall()}
    finally:
        con.close()
    kind = next((s.split(":", 1)[1] for s in steps if s.startswith("begin:")), "night")
    return kind, {s for s in steps if not s.startswith("begin:")}


def commit(cfg: RunConfig, summary: dict | None = None) -> str:
    """Make the night's work the committed state (see the module docstring). Returns its kind."""
    work = require(cfg, "commit")
    kind, done = progress(work)
    missing = [s for s in ("build", "check", "publish", "export") if s not in done]
    if missing:
        raise NightError(f"night {cfg.as_of} cannot be committed: step(s) {', '.join(missing)} have not "
                         f"finished in this attempt; run them first")
    latest = latest_committed(cfg.warehouse)
    if latest is not None and latest > cfg.as_of:
        kind = "backfill"  # never replaces the warehouse, whatever happened to it meanwhile
    base = work.parent / "base.json"
    if kind == "night" and (not base.exists()
                            or json.loads(base.read_text(encoding="utf-8")) != _fingerprint(cfg.warehouse)):
        raise NightError(f"{cfg.warehouse} changed since night {cfg.as_of} began (another night, a "
                         f"`bullseye forget`, or a restore); committing would undo that change. Run the night "
                         f"again from load.")
    con = connect(work)
    try:
        con.execute("DELETE FROM meta.nights WHERE as_of = ? AND kind = ?", [cfg.as_of, kind])
        con.execute("INSERT INTO meta.nights VALUES (?, ?, (SELECT min(finished_at) FROM meta.night_progress), "
                    "now(), ?)", [cfg.as_of, kind, json.dumps(summary or {}, default=str, ensure_ascii=False)])
        con.execute("DELETE FROM meta.night_progress")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    swap_dir(staged_exports(cfg), cfg.exports)
    failpoint("commit")
    cfg.published.parent.mkdir(parents=True, exist_ok=True)
    if kind == "backfill":
        keep = backfill_dir(cfg)
        keep.mkdir(parents=True, exist_ok=True)
        os.replace(work, keep / work.name)
        staged = staged_publication(cfg)
        if staged.exists():
            os.replace(staged, keep / ("published-" + staged.name))
    else:
        os.replace(work, cfg.warehouse)
        cfg.warehouse.with_name(cfg.warehouse.name + ".wal").unlink(missing_ok=True)
        os.replace(staged_publication(cfg), cfg.published)
    discard(cfg)
    return kind


def _fingerprint(warehouse: Path) -> list[int] | None:
    """What identifies the committed file a night started from: every commit or forget replaces it
    (new inode), and nothing else writes it."""
    if not warehouse.exists():
        return None
    st = warehouse.stat()
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def discard(cfg: RunConfig) -> None:
    """Remove what an unfinished attempt at this night left: working copy and staged outputs."""
    shutil.rmtree(working_dir(cfg.warehouse, cfg.as_of), ignore_errors=True)
    shutil.rmtree(staging_dir(cfg), ignore_errors=True)
    for old in cfg.exports.parent.glob(f".old-{cfg.exports.name}-*"):  # a commit killed mid-swap
        shutil.rmtree(old, ignore_errors=True)


def swap_dir(staged: Path, final: Path) -> None:
    """Put a fully written folder in place of ``final``: the old one is renamed away first,
    then removed, so no reader ever sees a half-written folder under the final name."""
    if not staged.exists():
        raise NightError(f"nothing staged at {staged} to put in place of {final}")
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def current_db(cfg: RunConfig) -> Path:
    """The database holding the night ``cfg.as_of``: its working copy while it is in progress."""
    work = working_copy(cfg.warehouse, cfg.as_of)
    return work if work.exists() else cfg.warehouse
