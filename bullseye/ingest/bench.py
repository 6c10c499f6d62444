"""``bullseye bench load``: the loader against DuckDB reading the same files straight into tables.

Each side runs in its own process on a fresh database file, so each has its own
peak memory (``ru_maxrss``) and neither warms the other's caches beyond the OS
page cache (the loader runs first, so if anything the comparison favours DuckDB).
The direct side is ``CREATE TABLE t AS SELECT * FROM read_csv/read_json/read_parquet(file)``
per delivery file, with DuckDB's type detection and ``ignore_errors`` (it checks
nothing, keeps no ledger and no quarantine): the floor the loader is measured against.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

READY = ".bench-ready"


@dataclass
class Side:
    seconds: float
    rows: int
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def landing_for(scale: float, tmp: Path, seed: int) -> tuple[Path, float | None]:
    """Demo data for ``scale`` under ``tmp`` (reused when a complete copy is there). Returns (landing, seconds
    spent generating, None when reused)."""
    from bullseye.demo import generate

    landing = tmp / f"landing_scale{scale:g}_seed{seed}"
    if (landing / READY).exists():
        return landing, None
    t0 = time.perf_counter()
    generate(landing, scale=scale, seed=seed)
    (landing / READY).write_text("complete\n")
    return landing, time.perf_counter() - t0


def delivery_files(landing: Path) -> list[Path]:
    """The files both sides read: what the loader finds as deliveries (manifests are not rows)."""
    from bullseye.ingest.loader import discover

    return [path for _, path, _ in discover(landing).found]


def run_loader(landing: Path, db: Path) -> Side:
    import duckdb

    from bullseye.ingest import load_landing

    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    report = load_landing(con, landing, "bench")
    seconds = time.perf_counter() - t0
    con.close()
    return Side(seconds, report.total("rows_in"), _peak_mb())


def run_direct(landing: Path, db: Path) -> Side:
    import duckdb

    con = duckdb.connect(str(db))
    rows = 0
    t0 = time.perf_counter()
    for i, path in enumerate(delivery_files(landing)):
        src = str(path).replace("'", "''")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            reader = f"read_parquet('{src}')"
        elif suffix in {".jsonl", ".json", ".ndjson"}:
            reader = f"read_json('{src}', format = 'newline_delimited', ignore_errors = true)"
        else:
            reader = f"read_csv('{src}', ignore_errors = true)"
        try:
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {reader}")
        except duckdb.Error:
            continue  # e.g. a GB18030 file: DuckDB alone cannot read it; the loader transcodes it
        rows += con.execute(f"SELECT count(*) FROM t{i}").fetchall()[0][0]
    seconds = time.perf_counter() - t0
    con.close()
    return Side(seconds, rows, _peak_mb())


def _peak_mb() -> float:
    """This process's peak RSS. VmHWM, because ru_maxrss survives exec and would report the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_subprocess(side: str, landing: Path, db: Path) -> Side:
    out = subprocess.run([sys.executable, "-m", "bullseye.ingest.bench", side, str(landing), str(db)],
                         check=True, capture_output=True, text=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Side(**data)


def compare(landing: Path, work: Path) -> tuple[Side, Side]:
    """(loader, DuckDB direct) on the same landing zone, each in a fresh process and database."""
    for name in ("loader.duckdb", "direct.duckdb"):
        (work / name).unlink(missing_ok=True)
    loader = _in_subprocess("loader", landing, work / "loader.duckdb")
    direct = _in_subprocess("direct", landing, work / "direct.duckdb")
    return loader, direct


if __name__ == "__main__":
    which, land, database = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    side = (run_loader if which == "loader" else run_direct)(land, database)
    print(json.dumps({"seconds": side.seconds, "rows": side.rows, "peak_rss_mb": side.peak_rss_mb}))
