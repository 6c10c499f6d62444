"""Bytes-level work on one delivery file: checksum, line facts, encoding, header.

The rows themselves are read by DuckDB (``read_csv`` with a rejects table,
``read_json_objects``, ``read_parquet``; see :mod:`bullseye.ingest.stage`).
Python only does what DuckDB cannot: one pass over the bytes that yields the
checksum together with the facts needed to account for every physical line
(line count, blank lines, NUL bytes, whether it is UTF-8), transcoding
GB18030/GBK to UTF-8 (DuckDB's ``encodings`` extension would have to be
downloaded at run time), and a line-by-line JSON check for a JSON Lines file
whose bad lines DuckDB could not place.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 22
# Rows per executemany when whole files are quarantined line by line.
BATCH_ROWS = 100_000
# What each delivery file type is read as, by extension (lower-cased). Delimited text files
# get their field separator here; everything that reads or re-reads such a file takes it from here.
DELIMITERS = {".csv": ",", ".txt": ",", ".tsv": "\t"}
JSON_LINES = frozenset({".jsonl", ".ndjson", ".json"})  # one JSON object per line, whatever the name says
PARQUET = ".parquet"
_DECLARED = re.compile(r"\.(gbk|gb2312|gb18030|utf-?8)\.(csv|tsv|txt|jsonl|ndjson|json)$", re.IGNORECASE)
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=\r?\n)")
_JSON_NUL = re.compile(rb"\\u0000")  # a regex finds this literal about twice as fast as ``in``


class UnreadableFile(Exception):
    """The whole file cannot be read (encoding, format); nothing of it is loaded."""


@dataclass
class FileScan:
    """What one pass over a file's bytes tells: enough to reconcile every physical line."""

    checksum: str
    size: int
    newlines: int
    ends_with_newline: bool
    blank_lines: list[int] = field(default_factory=list)  # physical line numbers of empty lines
    has_nul: bool = False
    has_json_nul: bool = False  # a \u0000 escape (JSON text)
    utf8: bool = True

    @property
    def physical_lines(self) -> int:
        return self.newlines + (1 if self.size and not self.ends_with_newline else 0)


def scan_file(path: Path, check_text: bool = True) -> FileScan:
    """Checksum, newline count, blank lines, NUL bytes and UTF-8 validity in one pass.

    The checksum pass reads the whole file anyway, so the facts the row
    accounting needs cost no extra read. Blank lines are listed because DuckDB
    skips them silently; the accounting adds them back. The checksum runs on a
    second thread (hashlib lets go of the GIL on large buffers) while this one
    counts lines and checks the text.
    """
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")() if check_text else None
    scan = FileScan(checksum="", size=0, newlines=0, ends_with_newline=False, utf8=check_text)
    carry = b""
    hashing: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1) as pool, path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            if hashing is not None:
                hashing.result()  # chunks are hashed in file order, one at a time
            hashing = pool.submit(h.update, chunk)
            scan.size += len(chunk)
            if check_text:
                scan.has_nul = scan.has_nul or b"\x00" in chunk
                scan.has_json_nul = scan.has_json_nul or _JSON_NUL.search(chunk) is not None
                if scan.utf8 and dec is not None:
                    try:
                        dec.decode(chunk)
                    except UnicodeDecodeError:
                        scan.utf8 = False
            block = carry + chunk
            cut = block.rfind(b"\n") + 1
            if cut:
                _blank_lines(block[:cut], scan)
                carry = block[cut:]
            else:
                carry = block
            scan.ends_with_newline = chunk.endswith(b"\n")
        if hashing is not None:
            hashing.result()
    if carry:
        _blank_lines(carry, scan, complete=False)
    if scan.utf8 and dec is not None:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            scan.utf8 = False
    scan.checksum = h.hexdigest()
    return scan


def _blank_lines(block: bytes, scan: FileScan, complete: bool = True) -> None:
    """Count the newlines of ``block`` (which starts at a line start) and note its empty lines."""
    line0 = scan.newlines + 1  # physical number of the block's first line
    if block.startswith((b"\n", b"\r\n")) or (not complete and block == b"\r"):
        scan.blank_lines.append(line0)
    seen, pos = 0, 0
    for m in _BLANK_AFTER_NEWLINE.finditer(block):
        seen += block.count(b"\n", pos, m.start() + 1)
        pos = m.start() + 1
        scan.blank_lines.append(line0 + seen)
    scan.newlines += block.count(b"\n")


def checksum(path: Path) -> str:
    return scan_file(path, check_text=False).checksum


def detect_encoding(path: Path, scan: FileScan, declared: str | None = None) -> tuple[str, str]:
    """Return (python codec, how it was decided). GB2312/GBK are read as GB18030, their superset."""
    name, how = declared, "declared"
    if name is None:
        m = _DECLARED.search(path.name)
        if m:
            name, how = m.group(1), "declared in file name"
    if name is not None:
        codec = codecs.lookup(name.replace("gbk", "gb18030").replace("gb2312", "gb18030")).name
        if codec == "utf-8":
            if not scan.utf8:
                raise UnreadableFile(f"declared encoding {name} does not decode the file")
            return "utf-8-sig", how
        if not _decodes(path, codec):
            raise UnreadableFile(f"declared encoding {name} does not decode the file")
        return codec, how
    if scan.utf8:
        return "utf-8-sig", "detected"
    if _decodes(path, "gb18030"):
        return "gb18030", "detected"
    raise UnreadableFile("file is neither UTF-8 nor GB18030/GBK; declare its encoding")


def _decodes(path: Path, encoding: str) -> bool:
    dec = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def transcode_to_utf8(path: Path, codec: str, dest: Path) -> Path:
    """Stream a GB18030 file into a UTF-8 copy DuckDB can read. Newlines keep their places."""
    with path.open("r", encoding=codec, newline="") as src, dest.open("w", encoding="utf-8", newline="") as out:
        for chunk in iter(lambda: src.read(CHUNK), ""):
            out.write(chunk)
    return dest


def read_header(path: Path, delim: str = ",") -> list[str]:
    """The header's column names, trimmed and lower-cased (the first physical line).

    ``delim`` is the file's field separator (:data:`DELIMITERS`): it must be the one
    DuckDB reads the rows with, or a tab-separated header reads as one column."""
    with path.open("rb") as fh:
        first = fh.readline()
    text = first.decode("utf-8-sig").rstrip("\r\n")
    if not text.strip():
        raise UnreadableFile("the first line (the header) is empty")
    try:
        fields = next(csv.reader([text], delimiter=delim, strict=True))
    except csv.Error as exc:
        raise UnreadableFile(f"cannot read the header: {exc}") from exc
    columns = [f.strip().lower() or f"_column{i + 1}" for i, f in enumerate(fields)]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise UnreadableFile(f"duplicate column names in header: {dupes}")
    return columns


def field_count(csv_line: str, delim: str = ",") -> int:
    """How many fields a (rejected) delimited record has, for a message a person can check."""
    try:
        return len(next(csv.reader([csv_line], delimiter=delim)))
    except (csv.Error, StopIteration):
        return csv_line.count(delim) + 1


def physical_line_at(path: Path, offset: int) -> int:
    """1-based physical line holding byte ``offset``."""
    count, read = 0, 0
    with path.open("rb") as fh:
        while read < offset:
            chunk = fh.read(min(CHUNK, offset - read))
            if not chunk:
                break
            count += chunk.count(b"\n")
            read += len(chunk)
    return count + 1


def lines_of(path: Path, wanted: set[int], limit: int = 2000) -> dict[int, str]:
    """The text of a few physical lines (for quarantined records DuckDB did not hand back)."""
    out: dict[int, str] = {}
    if not wanted:
        return out
    last = max(wanted)
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if no in wanted:
                out[no] = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")[:limit]
            if no >= last:
                break
    return out


def raw_lines(path: Path, limit: int = 2000) -> Iterator[tuple[int, str]]:
    """Every physical line as text (latin-1 keeps any byte), for a file rejected whole."""
    with path.open("rb") as fh:
        for no, line in enumerate(fh, start=1):
            yield no, line.rstrip(b"\r\n").decode("latin-1")[:limit]


def json_line_problems(path: Path) -> dict[int, str]:
    """Python pre-pass for a JSON Lines file DuckDB could not align: {line: reason} for bad lines.

    Only run on files where ``read_json_objects`` returned a different number of
    objects than the file has non-blank lines (e.g. two objects on one line).
    """
    bad: dict[int, str] = {}
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                bad[no] = "invalid JSON: not UTF-8"
                continue
            except json.JSONDecodeError as exc:
                bad[no] = f"invalid JSON: {exc.msg}"
                continue
            if not isinstance(obj, dict):
                bad[no] = "JSON line is not an object"
    return bad
