"""Read one delivery file into batches of text columns, keeping line numbers.

Readers never type or judge values: they turn bytes into strings and report
rows that cannot even be split into fields (broken CSV rows, bad JSON). Typing
and validation happen afterwards in SQL, where they are fast.

GB18030/GBK is decoded here in Python because DuckDB's ``encodings``
extension would have to be downloaded at run time.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 100_000
_DECLARED = re.compile(r"\.(gbk|gb2312|gb18030|utf-?8)\.(csv|jsonl|txt)$", re.IGNORECASE)
csv.field_size_limit(10_000_000)


class UnreadableFile(Exception):
    """The whole file cannot be read (encoding, format); nothing of it is loaded."""


@dataclass
class Batch:
    columns: list[str]
    rows: dict[str, list[str | None]]
    lines: list[int]
    # (line, raw text, reason) for rows that could not be split into fields
    broken: list[tuple[int, str, str]] = field(default_factory=list)

    def to_arrow(self) -> pa.Table:
        data = {c: pa.array(self.rows[c], type=pa.string()) for c in self.columns}
        data["_line"] = pa.array(self.lines, type=pa.int64())
        return pa.table(data)


def checksum(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decodes(path: Path, encoding: str) -> bool:
    dec = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def detect_encoding(path: Path, declared: str | None = None) -> tuple[str, str]:
    """Return (python codec, how it was decided). GB2312/GBK are read as GB18030, their superset."""
    name = declared
    how = "declared"
    if name is None:
        m = _DECLARED.search(path.name)
        if m:
            name, how = m.group(1), "declared in file name"
    if name is not None:
        codec = codecs.lookup(name.replace("gbk", "gb18030").replace("gb2312", "gb18030")).name
        if codec == "utf-8":
            codec = "utf-8-sig"
        if not _decodes(path, codec):
            raise UnreadableFile(f"declared encoding {name} does not decode the file")
        return codec, how
    with path.open("rb") as fh:
        head = fh.read(3)
    if head == codecs.BOM_UTF8 or _decodes(path, "utf-8"):
        return "utf-8-sig", "detected"
    if _decodes(path, "gb18030"):
        return "gb18030", "detected"
    raise UnreadableFile("file is neither UTF-8 nor GB18030/GBK; declare its encoding")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value if value.strip() != "" else None


def read_csv(path: Path, encoding: str) -> Iterator[Batch]:
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableFile(f"cannot read the header: {exc}") from exc
        columns = [h.strip().lower() for h in header]
        dupes = {c for c in columns if columns.count(c) > 1}
        if dupes:
            raise UnreadableFile(f"duplicate column names in header: {sorted(dupes)}")
        width = len(columns)
        batch = _new_batch(columns)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                batch.broken.append((start, "", f"unparseable CSV row: {exc}"))
                continue
            if not row or (len(row) == 1 and row[0] == ""):
                continue  # blank line
            if len(row) != width:
                batch.broken.append((start, ",".join(row)[:2000],
                                     f"row has {len(row)} fields, header has {width}"))
                continue
            for c, v in zip(columns, row, strict=True):
                batch.rows[c].append(_clean(v))
            batch.lines.append(start)
            if len(batch.lines) >= BATCH_ROWS:
                yield batch
                batch = _new_batch(columns)
        yield batch


def _new_batch(columns: list[str]) -> Batch:
    return Batch(columns=list(columns), rows={c: [] for c in columns}, lines=[])


def _jsonable(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def read_jsonl(path: Path, encoding: str) -> Iterator[Batch]:
    """JSON Lines; the column set is the union of keys seen in the batch."""
    with path.open(encoding=encoding) as fh:
        records: list[tuple[int, dict]] = []
        broken: list[tuple[int, str, str]] = []
        for no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                broken.append((no, line.rstrip("\n")[:2000], f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(obj, dict):
                broken.append((no, line.rstrip("\n")[:2000], "JSON line is not an object"))
                continue
            records.append((no, obj))
            if len(records) >= BATCH_ROWS:
                yield _json_batch(records, broken)
                records, broken = [], []
        yield _json_batch(records, broken)


def _json_batch(records: list[tuple[int, dict]], broken: list) -> Batch:
    columns: dict[str, None] = {}
    for _, obj in records:
        for k in obj:
            columns.setdefault(k.strip().lower(), None)
    cols = list(columns)
    batch = _new_batch(cols)
    batch.broken = broken
    for no, obj in records:
        low = {k.strip().lower(): v for k, v in obj.items()}
        for c in cols:
            batch.rows[c].append(_jsonable(low.get(c)))
        batch.lines.append(no)
    return batch


def read_parquet(path: Path) -> Iterator[Batch]:
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise UnreadableFile(f"not a readable Parquet file: {exc}") from exc
    offset = 0
    for rb in pf.iter_batches(batch_size=BATCH_ROWS):
        cols = [c.lower() for c in rb.schema.names]
        rows = {}
        for c, arr in zip(cols, rb.columns, strict=True):
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                rows[c] = [_clean(v) for v in arr.to_pylist()]
            else:
                rows[c] = [_jsonable(v) for v in arr.to_pylist()]
        n = rb.num_rows
        yield Batch(columns=cols, rows=rows, lines=list(range(offset + 1, offset + n + 1)))
        offset += n


def read_file(path: Path, declared_encoding: str | None = None) -> tuple[Iterator[Batch], str]:
    """Pick the reader from the extension. Returns (batches, encoding note)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(path), "parquet"
    if suffix in {".csv", ".txt", ".tsv"}:
        enc, how = detect_encoding(path, declared_encoding)
        return read_csv(path, enc), f"{enc} ({how})"
    if suffix in {".jsonl", ".json", ".ndjson"}:
        enc, how = detect_encoding(path, declared_encoding)
        return read_jsonl(path, enc), f"{enc} ({how})"
    raise UnreadableFile(f"unsupported file type {suffix!r} (expected .csv, .parquet or .jsonl)")
