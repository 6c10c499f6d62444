"""``bullseye bench night``: one whole night on demo data, measured per step (issue 18).

The night runs in a child process (``python -m bullseye.night_bench``) so that its peak memory is its own and
not the generator's or the parent's. The child calls the same step functions as ``bullseye run``
(bullseye.pipeline.STEPS) in order, and around each step measures:

- wall time (``time.perf_counter``);
- peak resident memory of the step: Linux keeps a high-water mark (VmHWM in /proc/self/status) that writing
  ``5`` to /proc/self/clear_refs resets, so each step's peak is its own, not the maximum so far. dbt, GE and
  Splink run in-process; a helper process a library starts (a compiler) is not counted (its ``ru_maxrss``
  would only repeat the size of the process it was forked from);
- rows per second: the night's input rows (meta.load_ledger rows_in of this night) over the step's seconds.

What the child does outside the steps (Python start, imports, the campaign check, the lock, exit) is shown as
its own line, ``start and wind-down``: a fixed overhead of every night. The figures are printed as a table and
written as JSON (``--json FILE``). Speed figures come from here, never from timed unit tests: machines are noisy.

Fixed overheads (issue 18): what a night pays whatever its data, shown as "of which fixed" lines under the step
that pays them (``NightFigures.fixed``), each measured inside the real night, not in a separate run:

- ``dbt start and parse`` (build): per dbt invocation (bullseye.transform.run_dbt), from the call (which, the
  first time, imports dbt) to the first node's start, the earliest ``timing.started_at`` in that invocation's
  run_results.json; dbt's own share begins at its ``metadata.invocation_started_at``. Whether dbt could parse
  partially (a partial_parse.msgpack in the target folder before the call) is in the detail. The time after the
  last node (dbt writing its artifacts) is given as ``dbt finish``.
- ``GE import and context`` (check): ``import great_expectations`` (0 when something imported it earlier) plus
  the calls to ``great_expectations.get_context``, timed by wrapping bullseye.quality.run_checks. The suites,
  checkpoints and Data Docs built per table are not in it: they grow with the tables checked.
- ``pytensor compilation`` (build, when the night fits CLV: the dbt Python models of bullseye.clv): wall time
  inside pytensor's ``FunctionMaker.__init__`` (graph rewrites) and ``FunctionMaker.create`` (linking, C code
  compiled or loaded from pytensor's cache, so a warm cache makes it smaller), outermost calls summed; dbt may
  run two Python models at once, so the sum can overlap. Patched right after pytensor's module is first imported,
  so the probe imports nothing early.
- ``Airflow task start`` (not part of this night: ``bullseye run`` and the benchmark run the steps in one
  process, Airflow starts a process per task): measured once in a fresh child as Python's start,
  ``import airflow`` and parsing the DAG file with DagBag, which is what each task's process does before its
  work; the scheduler's queueing and the task supervisor's own work are not in it. The DAG's task count is
  shown beside it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH_NIGHT = date(2026, 11, 24)  # the night after the demo's last day of data (bullseye.demo.DEMO_END)
RESULT_MARK = "BULLSEYE-BENCH-RESULT "


@dataclass
class StepFigure:
    step: str
    seconds: float
    peak_rss_mb: float | None  # None: not measured (the child's start and wind-down)
    rows_per_second: float | None = None
    start_rss_mb: float | None = None  # resident at the step's start: memory earlier steps left behind
    peak_spill_mb: float | None = None  # the most DuckDB had spilled to disk during the step (SpillWatch)


@dataclass
class FixedFigure:
    """A fixed overhead: what ``step`` spends whatever the data (see the module's docstring for each ``what``)."""
    step: str  # the step that pays it; "airflow" for the Airflow task start, which this night does not pay
    what: str
    seconds: float
    count: int = 1  # how many times the night paid it (dbt invocations, compilations)
    detail: str = ""


@dataclass
class NightFigures:
    scale: float
    as_of: str
    people: int = 0
    input_rows: int = 0
    generate_seconds: float | None = None  # None: the demo data was reused
    total_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    peak_spill_mb: float = 0.0
    steps: list[StepFigure] = field(default_factory=list)
    fixed: list[FixedFigure] = field(default_factory=list)  # "of which fixed", under their steps
    notes: list[str] = field(default_factory=list)
    slowest_nodes: list[tuple[str, float]] = field(default_factory=list)  # dbt's, over the night's invocations
    targets: list[str] = field(default_factory=list)  # each target of this scale: met, or missed and why

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (kB) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}: the night benchmark needs Linux")


def peak_rss_mb() -> float:
    """This process's peak resident memory since start or the last :func:`reset_peak` (VmHWM)."""
    return _status_mb("VmHWM")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0). False where the kernel refuses: peaks are then cumulative,
    and the report says so."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    """This process's resident memory now (VmRSS)."""
    return _status_mb("VmRSS")


class SpillWatch:
    """The disk DuckDB spills to, sampled: every ``*.tmp`` folder under the warehouse's folder (the working
    copy's, ``.nights/<date>/bullseye.duckdb.tmp``, and the published copy's), in blocks really written. DuckDB
    spills within a query and deletes the files after it, so only sampling sees the peak; one taken every
    ``every`` seconds can miss a spill shorter than that."""

    def __init__(self, folder: Path, every: float = 0.5):
        self.folder, self.every = folder, every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spill-watch", daemon=True)

    def spilled_bytes(self) -> int:
        total = 0
        for tmp in self.folder.rglob("*.tmp"):
            if tmp.is_dir():
                for entry in os.scandir(tmp):
                    with contextlib.suppress(OSError):  # DuckDB deletes its spill files while we look
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, self.spilled_bytes())

    def __enter__(self) -> SpillWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def take_peak_mb(self) -> float:
        """The peak since the last call, in MB, and start again."""
        peak, self.peak = self.peak, 0
        return round(peak / 2**20, 1)


def measure(name: str, fn, rows: int | None = None, spill: SpillWatch | None = None) -> StepFigure:
    """Run ``fn()`` and return its wall time, its peak memory and the memory resident when it started (the
    peak includes what earlier steps left resident: allocator caches, imported libraries), and with ``spill``
    the most DuckDB spilled to disk meanwhile."""
    reset_peak()
    if spill is not None:
        spill.take_peak_mb()
    start = rss_mb()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return StepFigure(name, round(seconds, 3), round(peak_rss_mb(), 1),
                      round(rows / seconds, 1) if rows and seconds else None, round(start, 1),
                      spill.take_peak_mb() if spill is not None else None)


# --- fixed overheads, measured inside the child's night ------------------------------------------------------

def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def dbt_start_finish(run_results: Path, called: datetime, returned: datetime) -> tuple[float, float, float] | None:
    """(seconds from the call to dbt's own start, from dbt's start to its first node, from its last node to the
    return) of one dbt invocation, from its run_results.json; None when the file is not this invocation's (dbt
    failed before writing it) or no node ran."""
    try:
        results = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    started = results.get("metadata", {}).get("invocation_started_at")
    timing = [t for r in results.get("results", []) for t in r.get("timing") or [] if t.get("started_at")]
    if not started or not timing or _utc(started) < called - timedelta(seconds=1):
        return None
    first = min(_utc(t["started_at"]) for t in timing)
    last = max(_utc(t.get("completed_at") or t["started_at"]) for t in timing)
    return ((_utc(started) - called).total_seconds(), (first - _utc(started)).total_seconds(),
            (returned - last).total_seconds())


def node_seconds(run_results: Path) -> list[tuple[str, float]]:
    """(resource type and name, seconds) of each node of one dbt invocation, from its run_results.json."""
    try:
        results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
    except (OSError, ValueError):
        return []
    out = []
    for r in results:
        kind, _, rest = r.get("unique_id", "").partition(".")
        out.append((f"{kind} {rest.split('.')[-1] if kind != 'test' else rest.split('.')[1]}",
                    round(float(r.get("execution_time") or 0.0), 2)))
    return out


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module)`` right after module ``name`` is first executed: a probe that must not import a heavy
    library early (which would move its import out of the step that pays it)."""

    def __init__(self, name: str, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run, then = spec.loader.exec_module, self.then

        def exec_module(module):
            run(module)
            try:
                then(module)
            except Exception:  # a probe never breaks the night
                pass
        spec.loader.exec_module = exec_module
        return spec


class FixedProbes:
    """Wrap what the night calls to time its fixed overheads (module docstring); :meth:`figures` reads them."""

    PYTENSOR = "pytensor.compile.function.types"

    def __init__(self):
        self.dbt: list[dict] = []
        self.nodes: list[tuple[str, float]] = []  # (node, seconds) of every dbt invocation of the night
        self.ge_import = self.ge_context = 0.0
        self.ge_calls = 0
        self.compile_seconds = 0.0
        self.compilations = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._undo: list = []

    def install(self) -> FixedProbes:
        from bullseye import quality, transform

        self._wrap(transform, "run_dbt", self._timed_dbt)
        self._wrap(quality, "run_checks", self._timed_checks)
        if self.PYTENSOR in sys.modules:
            self._patch_pytensor(sys.modules[self.PYTENSOR])
        else:
            hook = _AfterImport(self.PYTENSOR, self._patch_pytensor)
            sys.meta_path.insert(0, hook)
            self._undo.append(lambda: hook in sys.meta_path and sys.meta_path.remove(hook))
        return self

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap(self, owner, name: str, make) -> None:
        original = getattr(owner, name)
        setattr(owner, name, functools.wraps(original)(make(original)))
        self._undo.append(lambda: setattr(owner, name, original))

    def _timed_dbt(self, run_dbt):
        def timed(cfg, command="build", *extra):
            target = Path(cfg.dbt_target)
            partial = (target / "partial_parse.msgpack").exists()
            called = datetime.now(UTC)
            try:
                return run_dbt(cfg, command, *extra)
            finally:
                got = dbt_start_finish(target / "run_results.json", called, datetime.now(UTC))
                if got:
                    self.dbt.append({"command": command, "partial_parse": partial, "before_dbt": got[0],
                                     "dbt_start_and_parse": got[1], "finish": got[2]})
                    self.nodes.extend(node_seconds(target / "run_results.json"))
        return timed

    def _timed_checks(self, run_checks):
        def timed(*args, **kwargs):
            from bullseye.quality import _quiet_gx

            _quiet_gx()
            t0 = time.perf_counter()
            import great_expectations as gx
            self.ge_import += time.perf_counter() - t0
            get_context = gx.get_context

            def timed_context(*a, **k):
                t1 = time.perf_counter()
                try:
                    return get_context(*a, **k)
                finally:
                    self.ge_context += time.perf_counter() - t1
                    self.ge_calls += 1
            gx.get_context = timed_context
            try:
                return run_checks(*args, **kwargs)
            finally:
                gx.get_context = get_context
        return timed

    def _patch_pytensor(self, types) -> None:
        maker = types.FunctionMaker
        for name in ("__init__", "create"):
            original = getattr(maker, name)
            setattr(maker, name, self._timed_compile(original, count=name == "create"))
            self._undo.append(lambda name=name, original=original: setattr(maker, name, original))

    def _timed_compile(self, fn, count: bool):
        local, lock = self._local, self._lock

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            depth = getattr(local, "depth", 0)  # an inner function compiled by an outer one is counted once
            local.depth = depth + 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                local.depth = depth
                if depth == 0:
                    with lock:
                        self.compile_seconds += time.perf_counter() - t0
                        self.compilations += count
        return timed

    def figures(self) -> list[FixedFigure]:
        out = []
        if self.dbt:
            parse = sum(d["before_dbt"] + d["dbt_start_and_parse"] for d in self.dbt)
            runs = "; ".join(
                f"{d['command']} ({'partial' if d['partial_parse'] else 'full'} parse): "
                f"{d['before_dbt']:.1f}s to dbt's start{' (importing dbt)' if i == 0 else ''} + "
                f"{d['dbt_start_and_parse']:.1f}s to the first node" for i, d in enumerate(self.dbt))
            out.append(FixedFigure("build", "dbt start and parse", round(parse, 2), len(self.dbt), runs))
            out.append(FixedFigure("build", "dbt finish", round(sum(d["finish"] for d in self.dbt), 2),
                                   len(self.dbt), "from the last node's end to the return (dbt writes its artifacts): "
                                   + ", ".join(f"{d['finish']:.1f}s" for d in self.dbt)))
        if self.compilations or self.compile_seconds:
            out.append(FixedFigure("build", "pytensor compilation", round(self.compile_seconds, 2),
                                   self.compilations, f"{self.compilations} pytensor functions compiled for the CLV "
                                   "fits and scores in dbt's Python models (bullseye.clv)"))
        if self.ge_calls:
            out.append(FixedFigure("check", "GE import and context", round(self.ge_import + self.ge_context, 2),
                                   self.ge_calls, f"import {self.ge_import:.2f}s, get_context {self.ge_context:.2f}s"))
        return out


AIRFLOW_START = """
import os, sys, time
t0 = time.perf_counter()
import airflow
imported = time.perf_counter() - t0
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
parsed = time.perf_counter() - t1
tasks = sum(len(d.task_ids) for d in bag.dags.values())
print("AIRFLOW-START", imported, parsed, tasks, len(bag.import_errors), flush=True)
"""


def airflow_task_start(scratch: Path, manifest: Path | None = None) -> FixedFigure | None:
    """What each Airflow task's process pays before its work (module docstring): a fresh Python, ``import
    airflow`` and the DAG file parsed by DagBag, in a child with its own AIRFLOW_HOME under ``scratch``. None when
    Airflow is not installed or the DAG does not parse (the reason is then in the figure's place: a note)."""
    from bullseye.config import PROJECT_ROOT, compiled_manifest

    home = scratch / "airflow_home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
                "BULLSEYE_DBT_MANIFEST": str(manifest or compiled_manifest())})
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", AIRFLOW_START], capture_output=True, text=True, env=env,
                         timeout=600)
    wall = time.perf_counter() - t0
    line = next((x for x in out.stdout.splitlines() if x.startswith("AIRFLOW-START ")), None)
    if out.returncode != 0 or line is None:
        return None
    imported, parsed, tasks, errors = line.split()[1:]
    imported, parsed = float(imported), float(parsed)
    start = wall - imported - parsed
    return FixedFigure("airflow", "Airflow task start", round(wall, 2), int(tasks),
                       f"per task process: Python start and exit {start:.2f}s, import airflow {imported:.2f}s, "
                       f"DAG file parse {parsed:.2f}s; count: the DAG's tasks"
                       + (f"; {errors} DAG import error(s)" if int(errors) else ""))


# --- the child: one night, step by step --------------------------------------------------------------------

def _input_rows(warehouse: Path, as_of: date) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute("SELECT coalesce(sum(rows_in), 0) FROM meta.load_ledger WHERE run_id = ?",
                               [as_of.isoformat()]).fetchall()[0][0])
    finally:
        con.close()


def run_night(landing: Path, home: Path, as_of: date) -> dict:
    """The child's work: every step of one night under the warehouse lock, measured. Returns a dict for JSON."""
    started = time.perf_counter()
    import logging

    from bullseye.config import RunConfig, claim_home
    from bullseye.night import night_lock, working_copy
    from bullseye.pipeline import STEPS, NightSummary, check_campaigns

    logging.basicConfig(level=logging.WARNING)
    claim_home(home, home / "warehouse" / "bullseye.duckdb")
    cfg = RunConfig(landing=landing, warehouse=home / "warehouse" / "bullseye.duckdb", as_of=as_of, home=home)
    summary = NightSummary(as_of=as_of.isoformat())
    imports = time.perf_counter() - started
    steps: list[StepFigure] = []
    rows = 0
    check_campaigns(cfg)
    probes = FixedProbes().install()
    try:
        with night_lock(cfg, "bench"), SpillWatch(cfg.warehouse.parent) as spill:
            for name, fn in STEPS:
                steps.append(measure(name, lambda fn=fn: fn(cfg, summary), rows, spill))
                if name == "load":
                    rows = summary.rows_in
                    steps[-1].rows_per_second = round(rows / steps[-1].seconds, 1) if steps[-1].seconds else None
    finally:
        probes.uninstall()
    if not rows:
        rows = _input_rows(cfg.warehouse, as_of)
    assert not working_copy(cfg.warehouse, as_of).exists(), "the night did not commit"
    slowest = sorted(probes.nodes, key=lambda n: -n[1])[:SLOWEST_NODES]
    return {"imports_seconds": round(imports, 2), "steps": [asdict(s) for s in steps], "input_rows": rows,
            "slowest_nodes": [list(n) for n in slowest],
            "people": summary.people, "notes": list(summary.notes), "fixed": [asdict(f) for f in probes.figures()],
            "peak_reset": reset_peak()}


# --- the parent ------------------------------------------------------------------------------------------------

def _night(landing: Path, home: Path, as_of: date, figures: NightFigures) -> NightFigures:
    """One night in a child process; fills ``figures`` from what the child measured."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bullseye.night_bench", str(landing), str(home), as_of.isoformat()],
                         capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.perf_counter() - t0
    result = next((line[len(RESULT_MARK):] for line in out.stdout.splitlines() if line.startswith(RESULT_MARK)),
                  None)
    if out.returncode != 0 or result is None:
        tail = (out.stderr or out.stdout)[-3000:]
        raise RuntimeError(f"the benchmark night {as_of} failed (exit {out.returncode}); its last output:\n{tail}")
    child = json.loads(result)
    steps = [StepFigure(**s) for s in child["steps"]]
    start = round(wall - sum(s.seconds for s in steps), 2)
    figures.steps = [StepFigure("start and wind-down", start, None)] + steps
    figures.fixed = [FixedFigure(**f) for f in child.get("fixed", [])]
    figures.total_seconds = round(wall, 1)
    figures.peak_rss_mb = max(s.peak_rss_mb or 0.0 for s in steps)
    figures.peak_spill_mb = max(s.peak_spill_mb or 0.0 for s in steps)
    figures.slowest_nodes = [tuple(n) for n in child.get("slowest_nodes", [])]
    figures.input_rows = child["input_rows"]
    figures.people = child["people"]
    figures.notes = child["notes"] + [
        f"start and wind-down: the child's wall time outside the steps (Python start, imports "
        f"({child['imports_seconds']}s of the pipeline's), the campaign check, the lock, exit); every night pays "
        "it"]
    if not child["peak_reset"]:
        figures.notes.append("this kernel does not reset the peak-memory mark: each step's peak is the maximum "
                             "so far, not its own")
    return figures


# Issue 18's targets on a 2-core, 24 GB machine: a whole night's seconds by scale, the next (incremental) night's,
# and the peak resident memory. A scale without a row has no target.
NIGHT_SECONDS_TARGET = {1: 30.0, 10: 60.0, 100: 600.0}
NEXT_NIGHT_SECONDS_TARGET = {100: 90.0}
PEAK_MB_TARGET = {100: 12_000.0}
SLOWEST_NODES = 8  # how many of dbt's slowest nodes a night reports


def _why_slow(fig: NightFigures) -> str:
    """The step that took longest, its share, what in it is fixed and, for build, dbt's slowest nodes."""
    steps = [s for s in fig.steps if s.peak_rss_mb is not None] or fig.steps
    worst = max(steps, key=lambda s: s.seconds)
    why = f"the largest step is {worst.step}, {worst.seconds:,.1f} s ({worst.seconds / fig.total_seconds:.0%})"
    fixed = [f"{f.what} {f.seconds:,.1f} s" for f in fig.fixed if f.step == worst.step]
    if fixed:
        why += "; fixed in it: " + ", ".join(fixed)
    if worst.step == "build" and fig.slowest_nodes:
        why += "; dbt's slowest: " + ", ".join(f"{name} {sec:,.1f} s" for name, sec in fig.slowest_nodes[:5])
    return why


def check_targets(fig: NightFigures, next_night: bool = False) -> list[str]:
    """One line per target of ``fig``'s scale: met, or missed with the step that misses it and why."""
    lines = []
    table = NEXT_NIGHT_SECONDS_TARGET if next_night else NIGHT_SECONDS_TARGET
    what = "next night" if next_night else "night"
    seconds = table.get(fig.scale)
    if seconds is not None:
        if fig.total_seconds <= seconds:
            lines.append(f"target met: {what} {fig.total_seconds:,.1f} s <= {seconds:,.0f} s")
        else:
            lines.append(f"target missed: {what} {fig.total_seconds:,.1f} s > {seconds:,.0f} s; {_why_slow(fig)}")
    peak = PEAK_MB_TARGET.get(fig.scale)
    if peak is not None:
        if fig.peak_rss_mb <= peak:
            lines.append(f"target met: {what} peak memory {fig.peak_rss_mb:,.0f} MB <= {peak:,.0f} MB")
        else:
            worst = max(fig.steps, key=lambda s: s.peak_rss_mb or 0.0)
            lines.append(f"target missed: {what} peak memory {fig.peak_rss_mb:,.0f} MB > {peak:,.0f} MB, in "
                         f"{worst.step} (DuckDB's memory_limit bounds DuckDB's part; the rest is Python's)")
    if not lines:
        lines.append(f"no target for scale {fig.scale:g} ({what}): targets are set for scales "
                     f"{', '.join(f'{s:g}' for s in sorted(table))}")
    return lines


def bench_night(scale: float, scratch: Path, seed: int, incremental: bool = False) -> list[NightFigures]:
    """Demo data for ``scale`` (generated under ``scratch`` or reused), then one night in a fresh home; with
    ``incremental``, one more day of deliveries (bullseye.demo.next_day) and the next night on the same home.
    Then, once, the Airflow task start (:func:`airflow_task_start`), added to the first night's fixed figures."""
    import shutil

    from bullseye.config import duckdb_limits, duckdb_spill_limit
    from bullseye.ingest.bench import landing_for

    landing, gen_s = landing_for(scale, scratch, seed)
    home = scratch / f"night_scale{scale:g}"
    shutil.rmtree(home, ignore_errors=True)
    memory, threads = duckdb_limits()
    limits = (f"DuckDB memory_limit {memory}, threads {threads}, max_temp_directory_size "
              f"{duckdb_spill_limit(home)} at the start (bullseye.config.duckdb_limits, duckdb_spill_limit)")
    first = _night(landing, home, BENCH_NIGHT, NightFigures(
        scale=scale, as_of=BENCH_NIGHT.isoformat(), generate_seconds=round(gen_s, 1) if gen_s is not None else None))
    first.notes.insert(0, limits)
    first.targets = check_targets(first)
    nights = [first]
    if incremental:
        from bullseye.demo.next_day import write_next_day

        t0 = time.perf_counter()
        day = write_next_day(landing, scratch / f"landing_next_scale{scale:g}_seed{seed}", BENCH_NIGHT, seed)
        made = round(time.perf_counter() - t0, 1)
        second = _night(day.landing, home, BENCH_NIGHT + timedelta(days=1), NightFigures(
            scale=scale, as_of=(BENCH_NIGHT + timedelta(days=1)).isoformat(), generate_seconds=made))
        second.notes.insert(0, f"incremental night: one more day of deliveries ({day.orders:,} orders, "
                               f"{day.events:,} events, {day.crm_customers:,} new CRM records) on the first "
                               f"night's warehouse; {limits}")
        second.targets = check_targets(second, next_night=True)
        nights.append(second)
    airflow = airflow_task_start(scratch, home / "dbt_target" / "manifest.json")
    if airflow is None:
        first.notes.append("Airflow task start: not measured (Airflow is not installed, or the DAG did not parse)")
    else:
        first.fixed.append(airflow)
    return nights


def main(argv: list[str]) -> int:
    """Child entry point: ``python -m bullseye.night_bench LANDING HOME AS_OF``."""
    landing, home, as_of = Path(argv[0]), Path(argv[1]), date.fromisoformat(argv[2])
    result = run_night(landing, home, as_of)
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
