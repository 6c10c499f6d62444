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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
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


@dataclass
class NightFigures:
    scale: float
    as_of: str
    people: int = 0
    input_rows: int = 0
    generate_seconds: float | None = None  # None: the demo data was reused
    total_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    steps: list[StepFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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


def measure(name: str, fn, rows: int | None = None) -> StepFigure:
    """Run ``fn()`` and return its wall time, its peak memory and the memory resident when it started (the
    peak includes what earlier steps left resident: allocator caches, imported libraries)."""
    reset_peak()
    start = rss_mb()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return StepFigure(name, round(seconds, 3), round(peak_rss_mb(), 1),
                      round(rows / seconds, 1) if rows and seconds else None, round(start, 1))


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
    with night_lock(cfg, "bench"):
        for name, fn in STEPS:
            steps.append(measure(name, lambda fn=fn: fn(cfg, summary), rows))
            if name == "load":
                rows = summary.rows_in
                steps[-1].rows_per_second = round(rows / steps[-1].seconds, 1) if steps[-1].seconds else None
    if not rows:
        rows = _input_rows(cfg.warehouse, as_of)
    assert not working_copy(cfg.warehouse, as_of).exists(), "the night did not commit"
    return {"imports_seconds": round(imports, 2), "steps": [asdict(s) for s in steps], "input_rows": rows,
            "people": summary.people, "notes": list(summary.notes),
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
    figures.total_seconds = round(wall, 1)
    figures.peak_rss_mb = max(s.peak_rss_mb or 0.0 for s in steps)
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


def bench_night(scale: float, scratch: Path, seed: int, incremental: bool = False) -> list[NightFigures]:
    """Demo data for ``scale`` (generated under ``scratch`` or reused), then one night in a fresh home; with
    ``incremental``, one more day of deliveries (bullseye.demo.next_day) and the next night on the same home."""
    import shutil

    from bullseye.config import duckdb_limits
    from bullseye.ingest.bench import landing_for

    landing, gen_s = landing_for(scale, scratch, seed)
    home = scratch / f"night_scale{scale:g}"
    shutil.rmtree(home, ignore_errors=True)
    memory, threads = duckdb_limits()
    limits = f"DuckDB memory_limit {memory}, threads {threads} (bullseye.config.duckdb_limits)"
    first = _night(landing, home, BENCH_NIGHT, NightFigures(
        scale=scale, as_of=BENCH_NIGHT.isoformat(), generate_seconds=round(gen_s, 1) if gen_s is not None else None))
    first.notes.insert(0, limits)
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
        nights.append(second)
    return nights


def main(argv: list[str]) -> int:
    """Child entry point: ``python -m bullseye.night_bench LANDING HOME AS_OF``."""
    landing, home, as_of = Path(argv[0]), Path(argv[1]), date.fromisoformat(argv[2])
    result = run_night(landing, home, as_of)
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
