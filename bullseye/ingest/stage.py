"""DuckDB's own readers put one delivery file into a temp table ``_stage`` of text columns.

``_stage`` has the file's columns (lower-cased names, all VARCHAR) and
``_line``, the physical line (1-based) where the record starts. Records DuckDB
cannot split into fields come back as :class:`Broken` (line, text, reason), so
every physical line is either a header, a blank line, part of a staged record or
part of a broken one; :func:`stage_csv` checks that sum against the file's
physical line count and refuses to go on if it does not balance.

``_line`` for CSV: DuckDB numbers records by their start, counting blank lines
but not the line breaks inside quoted values. Where no record spans lines
(checked by the count) that is the physical line. Where records span lines the
loader adds the line breaks of the earlier records, which is exact unless the
file also has blank lines; then ``_line`` is DuckDB's record line (blank lines
counted, line breaks inside quoted values not), still in file order.

An unbalanced quote makes DuckDB read the rest of the file as one quoted
field. The stager then holds that one physical line back and reads on from the
next line (a copy of the rest of the file), up to :data:`MAX_RESYNCS` times.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bullseye.ingest.readers import (
    FileScan,
    UnreadableFile,
    field_count,
    json_line_problems,
    lines_of,
    physical_line_at,
    read_header,
)

MAX_LINE_BYTES = 2_000_000  # a longer record is held back (kept, truncated, in the quarantine)
MAX_RESYNCS = 100
RECORD_KEEP = 65_536  # characters of an oversized record kept in the quarantine


@dataclass
class Broken:
    line: int
    text: str
    reason: str
    column: str | None = None


@dataclass
class Staged:
    columns: list[str]
    rows: int = 0
    broken: list[Broken] = field(default_factory=list)
    multiline: bool = False  # some staged record spans physical lines
    delim: str = ","  # the field separator the file is read with


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def keep(text: str | None, limit: int = RECORD_KEEP) -> str | None:
    """A record as kept in the quarantine: whole, or cut with a note saying how long it was."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f" …[truncated: kept {limit:,} of {len(text):,} characters]"


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, scan: FileScan, scratch: Path,
              delim: str = ",") -> Staged:
    """Read a UTF-8 delimited file with ``read_csv`` (rejects table) into ``_stage``.

    ``delim`` is the field separator its extension stands for (``readers.DELIMITERS``:
    a tab for ``.tsv``); the header, the rows and the field counts of rejected records
    are all read with it."""
    columns = read_header(path, delim)
    st = Staged(columns=columns, delim=delim)
    cols_sql = ", ".join(f"{_s(c)}: 'VARCHAR'" for c in columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage ({', '.join(_q(c) + ' VARCHAR' for c in columns)}, "
                "_line BIGINT)")
    segment, header, first_line = path, True, 1
    staged_before = 0
    for _ in range(MAX_RESYNCS + 1):
        stop = _read_segment(con, st, segment, header, first_line, scan, cols_sql, staged_before)
        staged_before = st.rows
        if stop is None:
            return st
        bad_line, next_offset = stop
        if next_offset is None:
            return st  # the unbalanced quote was on the last line
        # Read on from the line after the broken one: a copy of the rest of the file.
        rest = scratch / f"rest_{bad_line}.csv"
        with segment.open("rb") as src, rest.open("wb") as out:
            src.seek(next_offset)
            shutil.copyfileobj(src, out)
        segment, header, first_line = rest, False, bad_line + 1
    # Too many unbalanced quotes: hold every remaining line back, each with its number.
    for no, text in _numbered_lines(segment, first_line):
        st.broken.append(Broken(no, text, f"not read: more than {MAX_RESYNCS} unbalanced quotes in the file"))
    return st


def _numbered_lines(path: Path, first: int) -> list[tuple[int, str]]:
    with path.open("rb") as fh:
        return [(first + i, raw.rstrip(b"\r\n").decode("utf-8", errors="replace")[:2000])
                for i, raw in enumerate(fh)]


def _read_segment(con: duckdb.DuckDBPyConnection, st: Staged, path: Path, header: bool, first_line: int,
                  scan: FileScan, cols_sql: str, staged_before: int) -> tuple[int, int | None] | None:
    """Stage one stretch of the file. Returns (broken line, byte offset to read on from) after an
    unbalanced quote, else None. ``first_line`` is the physical number of the stretch's first line."""
    con.execute("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rej_scan")
    names = ", ".join(_q(c) for c in st.columns)
    con.execute(f"""INSERT INTO _stage ({names}) SELECT * FROM read_csv({_s(str(path))}, columns = {{{cols_sql}}},
        header = {str(header).lower()}, auto_detect = false, all_varchar = true, delim = {_s(st.delim)}, quote = '"',
        escape = '"', store_rejects = true, rejects_table = '_rej', rejects_scan = '_rej_scan',
        max_line_size = {MAX_LINE_BYTES}, encoding = 'utf-8')""")
    n = con.execute("SELECT count(*) FROM _stage").fetchall()[0][0] - staged_before
    rejects = con.execute("""SELECT line, line_byte_position, error_type, csv_line, error_message, column_name
        FROM _rej ORDER BY line""").fetchall()
    offset = first_line - 1  # DuckDB's line 1 is the stretch's first line
    stop: tuple[int, int | None] | None = None
    rejected: dict[int, Broken] = {}
    for line, byte_pos, etype, text, message, column in rejects:
        if etype == "UNQUOTED VALUE" and "unterminated quote" in (message or ""):
            start = _record_start(path, byte_pos)
            bad = offset + physical_line_at(path, start)
            text_line, nxt = _line_from(path, start)
            stop = (bad, nxt)
            st.broken.append(Broken(bad, keep(text_line) or "", "unbalanced quote: this line opens a quoted "
                                    "value that never closes; the line is held and reading goes on at the next"))
            continue
        if line in rejected:  # several errors on one record: one broken record, reasons joined
            why = _reason(etype, message, text, st.delim)
            if why not in rejected[line].reason.split("; "):
                rejected[line].reason += "; " + why
            continue
        body = keep((text or "").lstrip("\r\n")) or ""
        if etype == "LINE SIZE OVER MAXIMUM" and "truncated" not in body:  # DuckDB hands back a cut record
            size = (message or "").split("Actual Size:")[-1].split(" ")[0]
            body += f" …[truncated: kept {len(body):,} characters of a record of {size} bytes]"
        rejected[line] = Broken(offset + line, body, _reason(etype, message, text, st.delim), column)
    last = (stop[0] - 1) if stop else scan.physical_lines
    blanks = [b for b in scan.blank_lines if first_line <= b <= last]
    heads = 1 if header else 0
    expected = last - offset - heads - len(blanks)
    single = expected == n + len(rejected) and all("\n" not in b.text for b in rejected.values())
    con.execute("CREATE OR REPLACE TEMP TABLE _new AS SELECT rowid AS rid FROM _stage WHERE _line IS NULL")
    _number_rows(con, offset + heads, sorted({*rejected, *(b - offset for b in blanks)}), heads)
    if not single:
        st.multiline = True
        _check_spans(con, st, expected, rejected, path)
    con.execute("DROP TABLE IF EXISTS _new")
    st.broken.extend(rejected.values())
    st.rows += n
    return stop


def _record_start(path: Path, pos: int) -> int:
    """Byte offset where a rejected record starts. DuckDB's ``line_byte_position`` counts from 1
    and may point at blank lines before the record: step over them."""
    start = max(pos - 1, 0)
    with path.open("rb") as fh:
        fh.seek(start)
        head = fh.read(4096)
    return start + (len(head) - len(head.lstrip(b"\r\n")))


def _line_from(path: Path, start: int) -> tuple[str, int | None]:
    """The physical line starting at byte ``start``, and the offset of the next line (None at EOF)."""
    with path.open("rb") as fh:
        fh.seek(start)
        raw = fh.readline()
        nxt = fh.tell()
        more = fh.read(1)
    text = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
    return text, (nxt if more else None)


def _reason(etype: str, message: str | None, text: str | None, delim: str = ",") -> str:
    if etype in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
        found = field_count((text or "").lstrip("\r\n"), delim)
        expected = (message or "").split("Expected Number of Columns: ")[-1].split(" ")[0]
        return f"row has {found} fields, header has {expected}"
    if etype == "LINE SIZE OVER MAXIMUM":
        return f"record longer than {MAX_LINE_BYTES:,} bytes (held back, kept truncated)"
    if etype == "INVALID ENCODING":
        return "invalid UTF-8 bytes in the record"
    return f"unparseable CSV row: {(message or etype).split('.')[0]}"


def _ordinal(con: duckdb.DuckDBPyConnection, table: str, where: str) -> str:
    """SQL for a row's 1-based place in file order among ``table``'s rows matching ``where``.

    DuckDB keeps insertion order, so rowid order is file order; rowids of a table
    written inside a transaction do not start at 0, hence the offset. Rowids of one
    insert are contiguous; if they ever were not, number them with a window.
    """
    lo, hi, n = con.execute(f"SELECT min(rowid), max(rowid), count(*) FROM {table} WHERE {where}").fetchall()[0]
    if n and hi - lo + 1 != n:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS _ord BIGINT")
        con.execute(f"""UPDATE {table} SET _ord = o.k FROM (SELECT rowid AS r, row_number() OVER (ORDER BY rowid) AS k
            FROM {table} WHERE {where}) o WHERE {table}.rowid = o.r""")
        return "_ord"
    return f"(rowid - {lo or 0} + 1)"


def _number_rows(con: duckdb.DuckDBPyConnection, base: int, excluded: list[int], heads: int) -> None:
    """Give the stretch's staged rows (``_line`` still NULL) their line: row k is the k-th line after
    the header not taken by a rejected record or a blank line."""
    k = _ordinal(con, "_stage", "_line IS NULL")
    if not excluded:
        con.execute(f"UPDATE _stage SET _line = {base} + {k} WHERE _line IS NULL")
        return
    # the j-th excluded line e_j (stretch numbering) comes after t_j = e_j - heads - j rows
    con.execute("CREATE OR REPLACE TEMP TABLE _excl (t BIGINT, j BIGINT)")
    con.executemany("INSERT INTO _excl VALUES (?, ?)", [(e - heads - j, j) for j, e in enumerate(excluded, start=1)])
    con.execute(f"""UPDATE _stage SET _line = {base} + m.k + coalesce(m.j, 0) FROM (
        SELECT s.k, x.j FROM (SELECT {k} AS k FROM _stage WHERE _line IS NULL) s
        ASOF LEFT JOIN _excl x ON s.k > x.t) m
        WHERE {k} = m.k AND _stage._line IS NULL""")
    con.execute("DROP TABLE _excl")


def _check_spans(con: duckdb.DuckDBPyConnection, st: Staged, expected: int,
                 rejected: dict[int, Broken], path: Path) -> None:
    """Records span lines: shift each record by the line breaks inside earlier records, and check
    that rows + their inner line breaks + broken records cover the stretch exactly."""
    nl = " + ".join(f"coalesce(length({_q(c)}) - length(replace({_q(c)}, chr(10), '')), 0)" for c in st.columns)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _spans AS
        SELECT rowid AS rid, _line AS dl, {nl} AS nl FROM _stage WHERE rowid IN (SELECT rid FROM _new)""")
    con.execute("CREATE OR REPLACE TEMP TABLE _rspans (dl BIGINT, nl BIGINT)")
    if rejected:
        con.executemany("INSERT INTO _rspans VALUES (?, ?)", [(b.line, b.text.count("\n")) for b in rejected.values()])
    con.execute("""CREATE OR REPLACE TEMP TABLE _shift AS SELECT rid, dl,
        coalesce(sum(nl) OVER (ORDER BY dl ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS shift
        FROM (SELECT rid, dl, nl FROM _spans UNION ALL SELECT NULL, dl, nl FROM _rspans)""")
    con.execute("UPDATE _stage SET _line = _line + s.shift FROM _shift s WHERE _stage.rowid = s.rid")
    shifts = dict(con.execute("SELECT dl, shift FROM _shift WHERE rid IS NULL").fetchall())
    for b in rejected.values():
        b.line += shifts.get(b.line, 0)
    covered = con.execute("SELECT count(*) + coalesce(sum(nl), 0) FROM _spans").fetchall()[0][0]
    covered += sum(1 + b.text.count("\n") for b in rejected.values())
    con.execute("DROP TABLE _spans; DROP TABLE _rspans; DROP TABLE _shift; DROP TABLE _new")
    if covered != expected:
        raise UnreadableFile(f"the CSV reader accounted for {covered:,} of {expected:,} data lines; "
                             "the file is held back whole rather than lose rows")


def stage_jsonl(con: duckdb.DuckDBPyConnection, path: Path, scan: FileScan, scratch: Path) -> Staged:
    """Read JSON Lines with ``read_json_objects`` into ``_stage``; bad lines come back one by one.

    ``ignore_errors`` turns a malformed line into a NULL object in its place, so
    row k is the k-th non-blank line. If the count does not match (e.g. two
    objects on one line), a Python pass over this file names the bad lines and
    they are blanked in a copy before DuckDB reads it again.
    """
    blanks = list(scan.blank_lines)
    problems: dict[int, str] = {}
    source = path
    n = _read_json_objects(con, source)
    if n + len(blanks) != scan.physical_lines:
        problems = json_line_problems(path)
        source = scratch / "clean.jsonl"
        with path.open("rb") as src, source.open("wb") as out:
            for no, raw in enumerate(src, start=1):
                out.write(b"\n" if no in problems else raw)
        blanks = sorted({*blanks, *problems})
        n = _read_json_objects(con, source)
        if n + len(blanks) != scan.physical_lines:
            raise UnreadableFile(f"{path.name}: {n:,} JSON objects on {scan.physical_lines - len(blanks):,} "
                                 "non-blank lines; the file is held back whole rather than lose rows")
    con.execute("ALTER TABLE _jraw ADD COLUMN _line BIGINT")
    excluded = blanks
    if excluded:
        con.execute("CREATE OR REPLACE TEMP TABLE _excl (t BIGINT, j BIGINT)")
        con.executemany("INSERT INTO _excl VALUES (?, ?)", [(e - j, j) for j, e in enumerate(excluded, start=1)])
        k = _ordinal(con, "_jraw", "true")
        con.execute(f"""UPDATE _jraw SET _line = x.k + coalesce(x.j, 0) FROM (
            SELECT s.k, x.j FROM (SELECT {k} AS k FROM _jraw) s ASOF LEFT JOIN _excl x ON s.k > x.t) x
            WHERE {k} = x.k""")
        con.execute("DROP TABLE _excl")
    else:
        con.execute(f"UPDATE _jraw SET _line = {_ordinal(con, '_jraw', 'true')}")
    st = Staged(columns=[])
    bad = con.execute("""SELECT _line, CASE WHEN j IS NULL THEN NULL ELSE 'JSON line is not an object' END
        FROM _jraw WHERE obj IS NOT TRUE ORDER BY _line""").fetchall()
    texts = lines_of(path, {line for line, _ in bad} | set(problems))
    for line, reason in bad:
        st.broken.append(Broken(line, texts.get(line, ""), reason or _json_error(texts.get(line, ""))))
    for line, reason in problems.items():
        st.broken.append(Broken(line, texts.get(line, ""), reason))
    keys = _json_keys(con)
    by_name: dict[str, list[str]] = {}
    for k in keys:
        by_name.setdefault(k.strip().lower(), []).append(k)
    st.columns = list(by_name)
    paths = [k for names in by_name.values() for k in names]
    idx, exprs = 1, []
    for name, originals in by_name.items():
        parts = [f"v[{idx + i}]" for i in range(len(originals))]
        idx += len(originals)
        exprs.append(f"{parts[0] if len(parts) == 1 else 'coalesce(' + ', '.join(parts) + ')'} AS {_q(name)}")
    path_list = "[" + ", ".join(_s("$." + json.dumps(k, ensure_ascii=False)) for k in paths) + "]"
    select = ", ".join(exprs) if exprs else "NULL::VARCHAR AS _none"
    # _jraw is in line order and DuckDB keeps insertion order (as _ordinal relies on): no sort needed
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _stage AS SELECT {select}, _line FROM (
        SELECT json_extract_string(j, {path_list}) AS v, _line FROM _jraw WHERE obj)""")
    if not exprs:
        con.execute("ALTER TABLE _stage DROP COLUMN _none")
    st.rows = con.execute("SELECT count(*) FROM _stage").fetchall()[0][0]
    con.execute("DROP TABLE _jraw")
    return st


def _json_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every key of the file's objects, in order of first appearance (ties by name).

    Rows are grouped by their key list first (a feed has few shapes), so the keys
    are unnested for a handful of groups rather than for every row."""
    rows = con.execute("""SELECT k, min(o) FROM (SELECT unnest(ks) AS k, o FROM (
        SELECT json_keys(j) AS ks, min(rowid) AS o FROM _jraw WHERE obj GROUP BY ks))
        GROUP BY k ORDER BY 2, 1""").fetchall()
    return [k for k, _ in rows]


# A valid JSON text is an object exactly when it starts with "{" (after JSON whitespace): no parse needed.
# _jraw keeps it as ``obj`` (NULL where the line is not JSON), so later passes need not read the text for it.
_IS_OBJECT = "starts_with(ltrim(j, ' \t\n\r'), '{')"


def _read_json_objects(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _jraw AS SELECT j, {_IS_OBJECT} AS obj FROM (
        SELECT json AS j FROM read_json_objects({_s(str(path))},
        format = 'newline_delimited', ignore_errors = true, maximum_object_size = 16777216))""")
    return con.execute("SELECT count(*) FROM _jraw").fetchall()[0][0]


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg}"
    return "invalid JSON"


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    """Read Parquet with ``read_parquet``; ``_line`` is the row number (1-based)."""
    try:
        schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_s(str(path))})").fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from exc
    names = [r[0] for r in schema]
    lower = [n.lower() for n in names]
    dupes = sorted({c for c in lower if lower.count(c) > 1})
    if dupes:
        raise UnreadableFile(f"duplicate column names: {dupes}")
    exprs = []
    for (name, typ, *_), low in zip(schema, lower, strict=True):
        nested = any(t in typ for t in ("STRUCT", "MAP", "[]", "LIST"))
        val = f"to_json({_q(name)})::VARCHAR" if nested else f"CAST({_q(name)} AS VARCHAR)"
        exprs.append(f"{val} AS {_q(low)}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _stage AS SELECT {', '.join(exprs)}, file_row_number + 1 AS _line
        FROM read_parquet({_s(str(path))}, file_row_number = true)""")
    return Staged(columns=lower, rows=con.execute("SELECT count(*) FROM _stage").fetchall()[0][0])
