"""``bullseye bench identity``: accuracy, speed and memory of identity resolution.

On a demo landing zone it builds the resolver's inputs with dbt (staging and the
identity records, keys and edge rules), then times three nights directly:

1. a full rebuild with training, over all records but ``new`` held-out ones;
2. an incremental night that adds the held-out records;
3. the same night again as a full rescoring with the same model (for speed, and to
   check that the incremental night gave the same clusters).

Pairwise precision and recall are computed against the generator's truth file, and
recall is shown next to its ceiling: what perfect matching could reach from the
evidence (see :func:`bullseye.evaluation.recall_ceiling`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import jinja2

from bullseye.config import DBT_PROJECT_DIR, RunConfig
from bullseye.identity.resolver import IdentityConfig, resolve

EDGES_MODEL = DBT_PROJECT_DIR / "models" / "intermediate" / "int_identity__edges.sql"


def edges_sql(records: str, keys: str, max_names_per_key: int = 3, max_records_per_key: int = 20) -> str:
    """The dbt model's edge rules rendered for arbitrary tables (same SQL as the nightly build)."""
    refs = {"int_identity__records": records, "int_identity__keys": keys}
    values = {"identity_max_names_per_key": max_names_per_key, "identity_max_records_per_key": max_records_per_key}
    return jinja2.Template(EDGES_MODEL.read_text()).render(ref=refs.__getitem__, var=values.__getitem__)


class PeakRss:
    """Samples this process's resident memory in a thread; ``peak_mb`` after ``stop``."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak_mb, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Phase:
    name: str
    records: int
    seconds: float
    peak_rss_mb: float
    run: dict = field(default_factory=dict)


@dataclass
class IdentityBench:
    scale: float
    records: int
    phases: list[Phase]
    precision: float
    recall: float
    recall_ceiling: float
    incremental_equals_full: bool
    setup_seconds: float


def run_bench(tmp: Path, scale: float, new: int = 10_000, events: bool = True, seed: int = 42,
              progress=print) -> IdentityBench:
    import duckdb

    from bullseye.demo import generate
    from bullseye.demo.generator import DEMO_END
    from bullseye.evaluation import pairwise_scores, recall_ceiling
    from bullseye.ingest import ensure_schema, load_landing
    from bullseye.transform import run_dbt
    from bullseye.warehouse import connect

    t0 = time.perf_counter()
    landing, warehouse = tmp / "landing", tmp / "bench.duckdb"
    generate(landing, scale=scale, seed=seed, parts={"lists", "events"} if events else {"lists"})
    progress(f"generated landing zone (scale {scale}) in {time.perf_counter() - t0:.0f}s")
    con = duckdb.connect(str(warehouse))
    load_landing(con, landing, "bench")
    ensure_schema(con)
    con.close()
    as_of = DEMO_END + timedelta(days=1)
    cfg = RunConfig(landing=landing, warehouse=warehouse, as_of=as_of, home=tmp / "home")
    run_dbt(cfg, "run", "--select", "+int_identity__edges")
    setup = time.perf_counter() - t0
    progress(f"loaded and staged in {setup:.0f}s total")

    con = connect(warehouse)
    con.execute("create schema if not exists identity_bench")
    con.execute(f"""create or replace table identity_bench.held_out as
        select source, source_record_id from intermediate.int_identity__records
        where source <> 'events' using sample {int(new)} rows (reservoir, 7)""")
    con.execute("""create or replace table identity_bench.records1 as select * from intermediate.int_identity__records
                   anti join identity_bench.held_out using (source, source_record_id)""")
    con.execute("""create or replace table identity_bench.keys1 as select * from intermediate.int_identity__keys
                   anti join identity_bench.held_out using (source, source_record_id)""")
    edges1 = edges_sql("identity_bench.records1", "identity_bench.keys1")
    con.execute(f"create or replace table identity_bench.edges1 as {edges1}")
    total = con.execute("select count(*) from intermediate.int_identity__records").fetchall()[0][0]

    phases = []

    def timed(name: str, records: str, edges: str, night: date, mode: str, n: int):
        with PeakRss() as mem:
            t = time.perf_counter()
            res = resolve(con, records, edges, night, IdentityConfig(mode=mode))
            phases.append(Phase(name, n, time.perf_counter() - t, mem.peak_mb, res.run))
        progress(f"{name}: {n:,} records in {phases[-1].seconds:.1f}s, peak RSS {mem.peak_mb:,.0f} MB")
        return res

    timed("full rebuild with training", "identity_bench.records1", "identity_bench.edges1", as_of, "retrain",
          total - new)
    night2 = as_of + timedelta(days=1)
    inc = timed(f"incremental night (+{new:,} records)", "intermediate.int_identity__records",
                "intermediate.int_identity__edges", night2, "incremental", total)
    full = timed("full rescoring, same model", "intermediate.int_identity__records",
                 "intermediate.int_identity__edges", night2, "full", total)

    def partition(frame):
        keyed = frame.assign(k=frame["source"] + "|" + frame["source_record_id"])
        return set(frozenset(g) for g in keyed.groupby("customer_id")["k"].groups.values())

    same = partition(inc.records) == partition(full.records)
    con.register("__bench_map", full.records)
    truth = landing / "_truth" / "identity.csv"
    scores = pairwise_scores(con, truth, "__bench_map")
    ceiling = recall_ceiling(con, truth, "intermediate.int_identity__records", "intermediate.int_identity__edges")
    con.close()
    return IdentityBench(scale, total, phases, scores.precision, scores.recall, ceiling, same, setup)
