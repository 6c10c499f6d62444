"""``bullseye bench identity``: accuracy, speed and memory of identity resolution.

Two modes. ``--records FILE ... --truth FILE`` (:func:`run_file_bench`) scores any labelled
file in the landing contract's format against its true clusters: one night, pairwise
precision, recall and F1, so a user can measure on their own data. ``--scale S``
(:func:`run_bench`) generates a demo landing zone, builds the resolver's inputs with dbt
(staging and the identity records, keys and edge rules), then times three nights directly:

1. a full rebuild with training, over all records but ``new`` held-out ones;
2. an incremental night that adds the held-out records;
3. the same night again as a full rescoring with the same model (for speed, and to
   check that the incremental night gave the same clusters).

Pairwise precision, recall and F1 are computed against the generator's truth file, and
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

from bullseye.config import DBT_PROJECT_DIR, RunConfig, project_vars
from bullseye.evaluation import PairScores, f1_score
from bullseye.identity.resolver import IdentityConfig, resolve

EDGES_MODEL = DBT_PROJECT_DIR / "models" / "intermediate" / "identity" / "int_identity__edges.sql"


def edges_sql(records: str, keys: str, max_names_per_key: int | None = None,
              max_records_per_key: int | None = None) -> str:
    """The dbt model's edge rules rendered for arbitrary tables (same SQL and, unless given, the same key
    limits as the nightly build: the project's settings)."""
    refs = {"int_identity__records": records, "int_identity__keys": keys}
    values = {**project_vars()}
    if max_names_per_key is not None:
        values["identity_max_names_per_key"] = max_names_per_key
    if max_records_per_key is not None:
        values["identity_max_records_per_key"] = max_records_per_key
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

    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)


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
    run_dbt(cfg, "build", "--select", "+int_identity__edges", "--exclude-resource-type", "test", "unit_test")
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


# --------------------------------------------------------------------------------------------
# File mode: ``bullseye bench identity --records FILE [--records FILE ...] --truth FILE``
# --------------------------------------------------------------------------------------------

TRUTH_SOURCES = ("crm_customers", "lists", "events")
STAGING_TRUTH_COLUMNS = ("source", "source_record_id", "person_id")
BENCH_LIST_TERMS = {"vendor": "benchmark", "acquired_at": "2000-01-01", "legal_basis": "contract"}
RECORD_FORMATS = (".csv", ".parquet")


class BenchInputError(ValueError):
    """A ``--records`` or ``--truth`` input the benchmark cannot use; the message names it and why."""


@dataclass
class Truth:
    """A truth file as read: ``frame`` has ``source, source_record_id, person_id`` (staging ids) or
    ``record_id, person_id`` (the files' own ids, named by ``id_column``), every value stripped."""

    path: Path
    kind: str  # "staging ids" or "own ids"
    frame: object  # pandas.DataFrame
    id_column: str = "source_record_id"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_truth(path: Path) -> Truth:
    """Read and check a truth CSV before anything is loaded, so a bad file costs no load or dbt run.

    Two formats are accepted:

    * the demo's ``source,source_record_id,person_id``, where ``source`` is the identity map's
      (crm_customers, lists, events) and ``source_record_id`` is the id staging builds:
      ``<source_system>:<source_customer_id>`` for CRM (``crm`` when source_system is absent or
      empty), ``<list_id>:<list_record_id>`` for lists, the anonymous_id for web visitors;
    * two columns ``<record id>,<cluster id>`` (any names), where the record id is the file's own
      ``source_customer_id`` or ``list_record_id``. :func:`map_truth` turns it into staging ids
      through the staged records themselves, so the mapping is the one staging applies.

    Raises :class:`BenchInputError` naming the file and the problem (missing, empty, not CSV,
    unknown columns, empty ids, a record labelled twice, an unknown source).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise BenchInputError(f"truth file {path}: {'is a folder' if path.is_dir() else 'does not exist'}")
    frame = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise BenchInputError(f"truth file {path}: is empty") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise BenchInputError(f"truth file {path}: is not a readable CSV ({_first_line(exc)})") from None
    if frame is None:
        raise BenchInputError(f"truth file {path}: is neither UTF-8 nor GB18030 text")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip())
    columns = list(frame.columns)
    if set(STAGING_TRUTH_COLUMNS) <= set(columns):
        truth = Truth(path, "staging ids", frame[list(STAGING_TRUTH_COLUMNS)])
        id_cols = ["source", "source_record_id"]
    elif len(columns) == 2:
        truth = Truth(path, "own ids", frame.set_axis(["record_id", "person_id"], axis=1), id_column=columns[0])
        id_cols = ["record_id"]
    else:
        raise BenchInputError(f"truth file {path}: expected the columns source,source_record_id,person_id or two "
                              f"columns <record id>,<cluster id>; found {','.join(columns) or 'no columns'}")
    f = truth.frame
    if not len(f):
        raise BenchInputError(f"truth file {path}: has a header but no rows")
    for col in f.columns:
        empty = f.index[f[col] == ""]
        if len(empty):
            name = truth.id_column if col == "record_id" else ("cluster id" if col == "person_id" and
                                                               truth.kind == "own ids" else col)
            raise BenchInputError(f"truth file {path}: {len(empty)} row(s) have an empty {name} "
                                  f"(first on line {empty[0] + 2})")
    if truth.kind == "staging ids":
        bad = f.index[~f["source"].isin(TRUTH_SOURCES)]
        if len(bad):
            raise BenchInputError(
                f"truth file {path}: source must be one of {', '.join(TRUTH_SOURCES)} (as in the identity map); "
                f"found {f['source'][bad[0]]!r} on {len(bad)} row(s) (first on line {bad[0] + 2})")
    twice = f.index[f.duplicated(id_cols, keep=False)]
    if len(twice):
        who = "|".join(f.loc[twice[0], id_cols])
        lines = ", ".join(str(i + 2) for i in twice[:5])
        raise BenchInputError(f"truth file {path}: record {who} is labelled more than once (lines {lines}); "
                              "a record belongs to one person")
    return truth


def map_truth(truth: Truth, id_map) -> tuple[object, list[str]]:
    """The labels that name a resolved record, in staging ids, and those that name none.

    ``id_map`` has one row per resolved record: ``own_id`` (its file's source_customer_id or
    list_record_id; the anonymous_id of a web visitor), ``source`` and ``source_record_id``.
    An own id that stands for several records (two CRM systems, or a CRM file and a list, using
    the same id) cannot be placed: it is refused, and the three-column format is the way out.
    """
    f = truth.frame
    if truth.kind == "staging ids":
        known = f.merge(id_map[["source", "source_record_id"]].drop_duplicates(), how="left",
                        on=["source", "source_record_id"], indicator=True)
        missing = known["_merge"] == "left_only"
        unknown = [f"{s}|{r}" for s, r in known.loc[missing, ["source", "source_record_id"]].itertuples(index=False)]
        return known.loc[~missing, list(STAGING_TRUTH_COLUMNS)], unknown
    counts = id_map.groupby("own_id").size()
    shared = sorted(set(f["record_id"]) & set(counts.index[counts > 1]))
    if shared:
        first = id_map[id_map["own_id"] == shared[0]]
        places = ", ".join(f"{s}|{r}" for s, r in first[["source", "source_record_id"]].itertuples(index=False))
        raise BenchInputError(
            f"truth file {truth.path}: {len(shared)} record id(s) in column {truth.id_column} stand for more than "
            f"one record, e.g. {shared[0]!r} is {places}; label them with the columns "
            "source,source_record_id,person_id instead")
    mapped = f.merge(id_map, how="left", left_on="record_id", right_on="own_id")
    unknown = mapped.loc[mapped["source"].isna(), "record_id"].tolist()
    return mapped.loc[mapped["source"].notna(), list(STAGING_TRUTH_COLUMNS)], unknown


def _header(path: Path) -> list[str]:
    """A record file's column names, lower-cased (the loader matches them the same way)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return [n.strip().lower() for n in pq.read_schema(path).names]
        except Exception as exc:  # noqa: BLE001 - any reader error is the file's problem, said as such
            raise BenchInputError(f"records file {path}: is not a readable Parquet file ({_first_line(exc)})") from None
    import csv

    with path.open("rb") as fh:
        first = fh.readline()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = first.decode(encoding).rstrip("\r\n")
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BenchInputError(f"records file {path}: the header is neither UTF-8 nor GB18030 text")
    if not text.strip():
        raise BenchInputError(f"records file {path}: the first line (the header) is empty")
    return [c.strip().lower() for c in next(csv.reader([text]))]


def record_kind(path: Path) -> str:
    """``crm_customers`` for a file with ``source_customer_id``, ``lists`` for one with ``list_record_id``."""
    if path.suffix.lower() not in RECORD_FORMATS:
        raise BenchInputError(f"records file {path}: expected a .csv or .parquet file")
    cols = set(_header(path))
    if "list_record_id" in cols and "source_customer_id" in cols:
        raise BenchInputError(f"records file {path}: has both source_customer_id and list_record_id; a file is "
                              "either a CRM customer file or a prospect list")
    if "list_record_id" in cols:
        return "lists"
    if "source_customer_id" in cols:
        return "crm_customers"
    raise BenchInputError(f"records file {path}: has neither source_customer_id (a CRM customer file) nor "
                          f"list_record_id (a prospect list); its columns are {', '.join(sorted(cols))}")


def _is_landing_zone(folder: Path) -> bool:
    from bullseye.ingest.sources import SOURCES

    return any(p.is_dir() and p.name.lower() in SOURCES for p in folder.iterdir())


def _place(src: Path, dest: Path) -> None:
    """Put a file into the benchmark's landing zone: a hard link when possible (no copy of a big file)."""
    import os
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _manifest_list_id(manifest: Path) -> str:
    """The list id a manifest names (its folder's name when it names none: the loader then says what is wrong)."""
    import json

    try:
        meta = json.loads(manifest.read_text(encoding="utf-8-sig"))
        named = str(meta.get("list_id") or "").strip() if isinstance(meta, dict) else ""
    except (OSError, ValueError):
        named = ""
    return named or manifest.parent.name


def build_landing(records: list[Path], landing: Path) -> tuple[Path, list[str], dict[str, Path]]:
    """A landing zone (contracts.md section 1) holding the given record files.

    A CRM customer file goes to ``crm_customers/``; a list file to ``lists/<list_id>/``, with the
    ``manifest.json`` beside it when there is one (its list_id), otherwise under the file's stem
    with a benchmark manifest (legal basis contract, acquired 2000-01-01: before any run date), and
    a note says so. A folder holding a manifest.json is a list folder. A folder with source folders
    is a whole landing zone and is used as it is (it must then be the only ``--records``).

    Returns the landing zone, notes for the output, and each placed file's original path (keyed by
    its path in the landing zone) so that quarantined rows are named by the user's file.
    """
    import json

    paths = [Path(p) for p in records]
    if not paths:
        raise BenchInputError("no --records given")
    for p in paths:
        if not p.exists():
            raise BenchInputError(f"records {p}: does not exist")
    zones = [p for p in paths if p.is_dir() and not (p / "manifest.json").exists() and _is_landing_zone(p)]
    if zones:
        if len(paths) > 1:
            raise BenchInputError(f"records {zones[0]} is a whole landing zone: give it as the only --records")
        return zones[0], [], {}
    notes: list[str] = []
    origin: dict[str, Path] = {}
    manifests: dict[str, Path | None] = {}

    def add(src: Path, rel: str) -> None:
        dest = landing / rel
        if dest.exists():  # two files of one name (from different folders)
            n = 2
            while (dest.parent / f"{n}_{src.name}").exists():
                n += 1
            dest = dest.parent / f"{n}_{src.name}"
        _place(src, dest)
        origin[dest.relative_to(landing).as_posix()] = src

    for p in paths:
        if p.is_dir():
            if not (p / "manifest.json").exists():
                raise BenchInputError(f"records {p}: a folder must be a landing zone (with crm_customers/, lists/ "
                                      "...) or a list folder (with manifest.json)")
            files = [f for f in sorted(p.iterdir()) if f.is_file() and f.name != "manifest.json"
                     and not f.name.startswith(".")]
            if not files:
                raise BenchInputError(f"records {p}: the list folder holds no record file")
        else:
            files = [p]
        for f in files:
            kind = record_kind(f)
            if kind == "crm_customers":
                add(f, f"crm_customers/{f.name}")
                continue
            manifest = f.parent / "manifest.json"
            list_id = _manifest_list_id(manifest) if manifest.exists() else f.stem
            known = manifests.get(list_id, False)
            source = manifest if manifest.exists() else None
            if known is False:
                manifests[list_id] = source
                if source is not None:
                    _place(source, landing / "lists" / list_id / "manifest.json")
                    origin[f"lists/{list_id}/manifest.json"] = source
                else:
                    terms = {"list_id": list_id, **BENCH_LIST_TERMS}
                    out = landing / "lists" / list_id / "manifest.json"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
                    notes.append(f"list {list_id} ({f}): no manifest.json beside it, so the benchmark wrote one "
                                 f"(legal_basis {BENCH_LIST_TERMS['legal_basis']}, acquired_at "
                                 f"{BENCH_LIST_TERMS['acquired_at']})")
            elif known != source:
                raise BenchInputError(f"records {f}: list {list_id} is given with two different manifests "
                                      f"({known or 'none'} and {source or 'none'})")
            add(f, f"lists/{list_id}/{f.name}")
    return landing, notes, origin


@dataclass
class FileBench:
    """What ``bench identity --records ... --truth ...`` measured."""

    as_of: date
    records: int  # source records resolved
    labelled: int  # of them, records the truth labels (only these are scored)
    truth_rows: int
    truth_unknown: list[str]  # labels naming no resolved record (held by the loader, mistyped ...)
    truth_format: str
    scores: PairScores
    people: int
    resolve_seconds: float
    setup_seconds: float
    peak_rss_mb: float
    matching: str
    matching_note: str | None
    rows_in: int
    rows_loaded: int
    rows_quarantined: int  # rows held back whole
    values_quarantined: int  # unreadable values dropped from rows that loaded
    quarantine: list[str] = field(default_factory=list)  # every quarantine entry, grouped by file and reason
    notes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.scores.precision

    @property
    def recall(self) -> float:
        return self.scores.recall

    @property
    def f1(self) -> float:
        return self.scores.f1


RECORDS_TABLE = "intermediate.int_identity__records"
EDGES_TABLE = "intermediate.int_identity__edges"


def _run_date(con) -> date:
    """A run date after every record and manifest date, so that staging (which only sees data up to
    the run date) leaves none out: today, or the day after the latest date in the files."""
    latest = con.execute("""select max(d) from (
        select cast(joined_at as date) as d from raw.crm_customers
        union all select cast(updated_at as date) from raw.crm_customers
        union all select acquired_at from raw.list_manifests)""").fetchall()[0][0]
    today = date.today()
    return max(today, latest + timedelta(days=1)) if latest else today


def _quarantine_lines(con, landing: Path, origin: dict[str, Path], limit: int = 10) -> list[str]:
    """Every quarantine entry, one line per file, column, reason and action, with its lines; the file
    is named by the path the user gave (or its place in the user's landing zone)."""
    rows = con.execute("""select path, column_name, reason, action, count(*), list(line order by line)
        from meta.quarantine group by all order by path, column_name nulls first, reason, action""").fetchall()
    what = {"row_held": "row held back", "value_dropped": "value dropped", "warned": "loaded with a warning"}
    out = []
    for path, column, reason, action, n, lines in rows:
        where = ", ".join(str(x) for x in lines[:limit] if x is not None) + (" ..." if len(lines) > limit else "")
        out.append(f"{origin.get(path, landing / path)}: {column or 'whole row'}: {reason} "
                   f"({what.get(action, action)}): {n} row(s), line(s) {where}")
    return out


def _loader_notes(con, report, origin: dict[str, Path], as_of: date) -> list[str]:
    """What the loader said that matters to a benchmark: rejected files and list terms. The default
    ID salt note is left out: the benchmark's warehouse is temporary, and hashes need only agree
    within it. Licence expiry is not applied (every record is resolved); a note names such lists."""
    from bullseye.ingest.privacy import DEFAULT_SALT_NOTE

    notes = [n for n in report.notes if n != DEFAULT_SALT_NOTE]
    for d in report.deliveries:  # (a refused manifest is in report.notes already)
        if d.outcome == "rejected":
            notes.append(f"{origin.get(d.path, d.path)}: rejected: {d.message}")
    for list_id, expires in con.execute("""select list_id, max(expires_at) from raw.list_manifests
            group by list_id having max(expires_at) < ? order by list_id""", [as_of]).fetchall():
        notes.append(f"list {list_id}: its licence expired on {expires}; the benchmark resolves its records "
                     "anyway (a night would purge those that match no customer)")
    return notes


def _staging_notes(con) -> list[str]:
    """Loaded rows that are not records tonight: staging keeps the latest row of each id."""
    notes = []
    for what, raw, stg, key in (
            ("CRM", "raw.crm_customers", "staging.stg_crm__customers",
             "(coalesce(trim(source_system), 'crm'), trim(source_customer_id))"),
            ("list", "raw.lists", "intermediate.int_lists__records", "(list_id, list_record_id)")):
        n_raw, n_ids = con.execute(f"select count(*), count(distinct {key}) from {raw}").fetchall()[0]
        n_stg = con.execute(f"select count(*) from {stg}").fetchall()[0][0]
        if n_raw > n_ids:
            notes.append(f"{n_raw - n_ids} {what} row(s) repeat the id of another row: staging keeps the latest "
                         "version of each record, as a night does")
        if n_ids > n_stg:
            notes.append(f"{n_ids - n_stg} {what} record(s) were left out by staging (dated after the run date, "
                         "or of a list with no accepted manifest)")
    return notes


def _id_map(con):
    """Each resolved record's own id (for a two-column truth) beside its staging id."""
    return con.execute(f"""
        select trim(source_customer_id) as own_id, 'crm_customers' as source, source_record_id
        from staging.stg_crm__customers
        union all select trim(list_record_id), 'lists', source_record_id from intermediate.int_lists__records
        union all select source_record_id, source, source_record_id from {RECORDS_TABLE} where source = 'events'
        """).df()


def run_file_bench(tmp: Path, records: list[Path], truth: Path, progress=print) -> FileBench:
    """Score identity resolution on the user's labelled files: one night in ``retrain`` mode.

    The files go through the real loader into a warehouse under ``tmp`` (quarantined rows are
    counted and named, never dropped silently), dbt builds the identity inputs
    (``+int_identity__edges``) as a night does, and the resolver runs once; setup and the resolve
    are timed apart. The truth is read first, so a bad truth file fails before any work.
    """
    import duckdb

    from bullseye.evaluation import pairwise_scores
    from bullseye.ingest import ensure_schema, load_landing
    from bullseye.transform import run_dbt
    from bullseye.warehouse import connect

    t0 = time.perf_counter()
    tmp = Path(tmp)
    parsed = read_truth(Path(truth))
    landing, notes, origin = build_landing(records, tmp / "landing")
    warehouse = tmp / "bench.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        # as_of=date.min: no list is purged for an expired licence (every record is resolved; see _loader_notes)
        report = load_landing(con, landing, "bench", as_of=date.min)
        ensure_schema(con)
        as_of = _run_date(con)
        notes += _loader_notes(con, report, origin, as_of)
        quarantine = _quarantine_lines(con, landing, origin)
    finally:
        con.close()
    progress(f"loaded {report.total('rows_loaded'):,} rows ({report.total('rows_quarantined'):,} held back) "
             f"in {time.perf_counter() - t0:.1f}s")
    cfg = RunConfig(landing=landing, warehouse=warehouse, as_of=as_of, home=tmp / "home")
    run_dbt(cfg, "build", "--select", "+int_identity__edges", "--exclude-resource-type", "test", "unit_test")
    con = connect(warehouse)
    try:
        notes += _staging_notes(con)
        labels, unknown = map_truth(parsed, _id_map(con))
        if not len(labels):
            raise BenchInputError(
                f"truth file {parsed.path}: none of its {len(parsed.frame):,} labels names a loaded record (e.g. "
                f"{unknown[0]!r}); " + ("staging ids look like crm:<source_customer_id> or "
                                        "<list_id>:<list_record_id>" if parsed.kind == "staging ids" else
                                        f"column {parsed.id_column} should hold source_customer_id or list_record_id"))
        truth_csv = tmp / "truth_staging_ids.csv"
        labels.to_csv(truth_csv, index=False)
        n_records = con.execute(f"select count(*) from {RECORDS_TABLE}").fetchall()[0][0]
        setup = time.perf_counter() - t0
        progress(f"staged {n_records:,} records (setup {setup:.1f}s); resolving ...")
        with PeakRss() as mem:
            t = time.perf_counter()
            res = resolve(con, RECORDS_TABLE, EDGES_TABLE, as_of, IdentityConfig(mode="retrain"))
            seconds = time.perf_counter() - t
        con.register("__bench_map", res.records)
        scores = pairwise_scores(con, truth_csv, "__bench_map")
        con.unregister("__bench_map")
    finally:
        con.close()
    return FileBench(
        as_of=as_of, records=n_records, labelled=len(labels), truth_rows=len(parsed.frame), truth_unknown=unknown,
        truth_format=parsed.kind, scores=scores, people=int(res.run.get("people", 0)), resolve_seconds=seconds,
        setup_seconds=setup, peak_rss_mb=mem.peak_mb, matching=res.run.get("matching", ""),
        matching_note=res.run.get("matching_note"), rows_in=report.total("rows_in"),
        rows_loaded=report.total("rows_loaded"), rows_quarantined=report.total("rows_quarantined"),
        values_quarantined=report.total("values_quarantined"), quarantine=quarantine, notes=notes)
