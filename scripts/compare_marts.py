"""Compare two warehouses table by table: the check that a restructuring changed no figure.

    python scripts/compare_marts.py BEFORE.duckdb AFTER.duckdb [--schema marts ...]

For every table of the given schemas (default: marts) in either warehouse: both have it, with the
same columns and types, the same number of rows and the same rows (compared as multisets with
EXCEPT ALL both ways, so duplicates count). With ``--rtol``, a table that differs only in
floating-point columns (rows paired in the order of all columns) by at most that relative
difference is reported as ``close`` with its largest difference. Prints one line per table and
exits 1 when any differs.
"""

from __future__ import annotations

import argparse
import sys

import duckdb


def tables(con: duckdb.DuckDBPyConnection, db: str, schema: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute("""select table_name, column_name, data_type from information_schema.columns
                          where table_catalog = ? and table_schema = ? order by table_name, ordinal_position""",
                       [db, schema]).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for t, c, ty in rows:
        out.setdefault(t, []).append((c, ty))
    return out


FLOATS = ("DOUBLE", "FLOAT", "REAL")


def within_tolerance(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]],
                     rtol: float) -> tuple[bool, str]:
    """Rows paired in the order of all their columns (exact ones first): every exact column equal and every
    floating-point column within ``rtol`` relative? For floats whose last digits depend on summation order."""
    exact = [f'"{c}"' for c, ty in columns if ty not in FLOATS]
    floats = [f'"{c}"' for c, ty in columns if ty in FLOATS]
    if not floats:
        return False, "no floating-point column"
    order = ", ".join(exact + floats)
    side = "select *, row_number() over (order by {o}) as _rn from {db}." + table
    checks = [f"count(*) filter (where a.{c} is distinct from b.{c})" for c in exact]
    rel = [f"max(abs(a.{c} - b.{c}) / greatest(abs(a.{c}), abs(b.{c}), 1e-300))" for c in floats]
    nulls = [f"count(*) filter (where (a.{c} is null) <> (b.{c} is null))" for c in floats]
    row = con.execute(f"select {', '.join(checks + nulls + rel) or '0'} from ({side.format(o=order, db='a')}) a "
                      f"join ({side.format(o=order, db='b')}) b using (_rn)").fetchall()[0]
    mismatched = sum(row[:len(checks) + len(nulls)])
    worst = max((x or 0.0) for x in row[len(checks) + len(nulls):])
    return mismatched == 0 and worst <= rtol, f"max relative difference {worst:.2e} in {', '.join(floats)}"


def compare(before: str, after: str, schemas: list[str], ignore: set[str] = frozenset(), rtol: float = 0.0) -> int:
    con = duckdb.connect()
    con.execute(f"attach '{before}' as a (read_only)")
    con.execute(f"attach '{after}' as b (read_only)")
    bad = 0
    for schema in schemas:
        ta, tb = tables(con, "a", schema), tables(con, "b", schema)
        for name in sorted(set(ta) | set(tb)):
            label = f"{schema}.{name}"
            if name not in ta or name not in tb:
                print(f"DIFF  {label}: only in {'after' if name in tb else 'before'}")
                bad += 1
                continue
            ta[name] = [c for c in ta[name] if c[0] not in ignore]
            tb[name] = [c for c in tb[name] if c[0] not in ignore]
            if ta[name] != tb[name]:
                print(f"DIFF  {label}: columns differ: {ta[name]} vs {tb[name]}")
                bad += 1
                continue
            n_a = con.execute(f"select count(*) from a.{schema}.{name}").fetchall()[0][0]
            n_b = con.execute(f"select count(*) from b.{schema}.{name}").fetchall()[0][0]
            cols = ", ".join(f'"{c}"' for c, _ in ta[name])
            only_a = con.execute(f"select count(*) from (select {cols} from a.{schema}.{name} "
                                 f"except all select {cols} from b.{schema}.{name})").fetchall()[0][0]
            only_b = con.execute(f"select count(*) from (select {cols} from b.{schema}.{name} "
                                 f"except all select {cols} from a.{schema}.{name})").fetchall()[0][0]
            if n_a == n_b and (only_a or only_b) and rtol > 0:
                ok, how = within_tolerance(con, f"{schema}.{name}", ta[name], rtol)
                if ok:
                    print(f"close {label}: {n_a:,} rows, exact columns equal, {how}")
                    continue
            if n_a != n_b or only_a or only_b:
                print(f"DIFF  {label}: {n_a:,} vs {n_b:,} rows; {only_a:,} only before, {only_b:,} only after")
                bad += 1
            else:
                print(f"same  {label}: {n_a:,} rows, {len(ta[name])} columns")
    print(f"{bad} table(s) differ" if bad else "all tables identical")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--schema", action="append", help="schema to compare (repeatable; default marts)")
    ap.add_argument("--ignore", action="append", default=[],
                    help="leave this column out wherever it occurs (repeatable), e.g. a timing or a run's random id")
    ap.add_argument("--rtol", type=float, default=0.0,
                    help="accept floating-point columns within this relative difference (rows paired in order)")
    args = ap.parse_args()
    return compare(args.before, args.after, args.schema or ["marts"], set(args.ignore), args.rtol)


if __name__ == "__main__":
    sys.exit(main())
