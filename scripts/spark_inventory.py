"""Count the DuckDB-only SQL constructs per model of dbt_project/ (issue 18): the table of docs/spark_port.md.

    python scripts/spark_inventory.py [DBT_PROJECT_DIR]   # markdown tables on stdout (default: this repo's)

A construct is found by a regular expression over the model's text, with SQL (--) and Jinja ({# #}) comments
left out; text inside Jinja (a {% set %} string) counts, since it becomes SQL. A cross-database macro of
macros/cross_db.sql is not counted: that is the port (nor macros/spark_seed.sql, Spark's seed loading).
Python models are listed on their own line.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "dbt_project"

# The port itself, not counted: the cross-database macros, and Spark's own seed loading (macros/spark_seed.sql).
PORT_MACROS = frozenset({"cross_db.sql", "spark_seed.sql"})
# Constructs Spark >= 3.4 (pyspark 4 here) reads as DuckDB does: listed, not counted as work.
SAME_ON_SPARK = {"GROUP BY ALL", "any_value()", "mode()/median()", "FILTER (WHERE ..)", "LATERAL"}
# Runs on Spark with another result type: to check model by model (a cast to date or a comparison makes it equal).
CHECK_ON_SPARK = {"date_trunc() (DATE in, DATE out)"}
# Not SQL to rewrite: the same Python functions are registered as Spark UDFs (bullseye.spark.register_udfs).
REGISTERED = {"bz_* Python UDFs"}
# name -> (pattern, what Spark needs instead)
CONSTRUCTS: dict[str, tuple[str, str]] = {
    "QUALIFY": (r"\bqualify\b", "subquery with row_number() and a WHERE (macro select_first_per)"),
    ":: cast": (r"::\s*[a-z]", "cast(x as type)"),
    "varchar type": (r"\bvarchar\b", "string (dbt.type_string())"),
    "list literal [] / ::T[]": (r"\[\s*\]|\[\s*'(?!%)|\[\]\s*$|varchar\[\]",
                                "array(...) / cast(array() as array<string>)"),
    "list() aggregate": (r"\blist\s*\(", "collect_list (order: array_sort or sort_array)"),
    "list_* functions": (r"\blist_[a-z_]+\s*\(", "array_distinct, array_sort, concat, array_contains, transform, "
                         "aggregate"),
    "lambda x: (DuckDB lambda)": (r"\blambda\s+[a-z_]+\s*:", "x -> expr"),
    "struct_pack / struct": (r"\bstruct_pack\s*\(", "named_struct(...)"),
    "unnest()": (r"\bunnest\s*\(", "explode() / LATERAL VIEW"),
    "generate_series() / range()": (r"\bgenerate_series\s*\(|\brange\s*\(", "sequence(start, stop, interval)"),
    "string_split()": (r"\bstring_split\s*\(", "split() (a regex on Spark: escape the pipe and the dot)"),
    "arg_max/arg_min": (r"\barg_(max|min)\s*\(", "max_by/min_by"),
    "ordered aggregate first(x order by ..)": (r"\bfirst\s*\([^()]*\border\s+by\b", "min_by/max_by on a struct of "
                                               "the sort keys"),
    "string_agg(.. order by ..)": (r"\bstring_agg\s*\(", "string_agg(x, sep) WITHIN GROUP (ORDER BY x) (pyspark 4.3; "
                                   "the DISTINCT form unchecked)"),
    "quantile_cont()": (r"\bquantile_cont\s*\(", "percentile(x, p) (same linear interpolation)"),
    "date_diff/datediff('unit', a, b)": (r"\bdate_?diff\s*\(\s*'", "day: datediff(b, a); year: year(b) - year(a) "
                                         "(DuckDB counts boundaries, Spark's timestampdiff whole years)"),
    "to_days()/to_years() intervals": (r"\bto_(days|years|months)\s*\(", "make_interval / date_add(d, n)"),
    "strftime()": (r"\bstrftime\s*\(", "date_format(x, Java pattern)"),
    "json_extract_string()": (r"\bjson_extract_string\s*\(", "get_json_object (macro json_text)"),
    "json_valid()": (r"\bjson_valid\s*\(", "try_parse_json(x) is not null (macro json_is_valid)"),
    "starts_with()": (r"\bstarts_with\s*\(", "startswith (macro text_starts_with)"),
    "try_strptime()": (r"\btry_strptime\s*\(", "try_to_timestamp per format (macro try_parse_date)"),
    "regexp_replace(.., 'g')": (r"\bregexp_replace\s*\([^;]*?,\s*'g'\s*\)", "regexp_replace without the flag "
                                "(Spark replaces every match)"),
    "hash()": (r"\bhash\s*\(", "a hash both engines compute alike (e.g. from md5): Spark's hash is Murmur3 32-bit"),
    "SELECT * EXCLUDE": (r"\bexclude\s*\(", "name the columns (Spark has no * EXCEPT)"),
    "SELECT * REPLACE": (r"\*\s*replace\s*\(", "name the columns"),
    "GROUP BY ALL": (r"\bgroup\s+by\s+all\b", "same on Spark >= 3.4"),
    "date_trunc() (DATE in, DATE out)": (r"\bdate_trunc\s*\(", "date_trunc gives a TIMESTAMP on Spark: cast to date "
                                         "where the model does not"),
    "LATERAL": (r"\blateral\b", "LATERAL VIEW / lateral subquery (Spark >= 3.2)"),
    "any_value()": (r"\bany_value\s*\(", "same on Spark >= 3.4"),
    "mode()/median()": (r"\b(mode|median)\s*\(", "same on Spark >= 3.4"),
    "FILTER (WHERE ..)": (r"\bfilter\s*\(\s*where\b", "same on Spark >= 3.0"),
    "now()": (r"\bnow\s*\(\s*\)", "current_timestamp()"),
    "bz_* Python UDFs": (r"\bbz_[a-z_]+\s*\(", "the same Python functions as Spark UDFs (bullseye.spark)"),
}
# Constructs that are a difference of meaning, not of syntax: named, not counted by pattern.
SEMANTIC_NOTES = (
    "ORDER BY ... ASC without NULLS: DuckDB puts NULLs last, Spark first (write NULLS LAST).",
    "date - date: an integer on DuckDB, an interval on Spark (use datediff).",
    "date + INTERVAL 1 DAY: a TIMESTAMP on DuckDB, a DATE on Spark (comparisons agree).",
    "cast of text that does not parse: an error on DuckDB; NULL on Spark, since dbt-spark turns ANSI mode off.",
    "avg of a DECIMAL: a DOUBLE on DuckDB, a DECIMAL with 4 more places on Spark (macro avg_as_double).",
    "DECIMAL / DECIMAL: a DOUBLE on DuckDB, a DECIMAL on Spark (macro divide_as_double).",
    "round(double, n): DuckDB rounds the exact binary value, Spark the shortest decimal text (macro round_double).",
    "median of a DECIMAL: truncated to the scale on DuckDB, a DOUBLE on Spark (macro median_decimal).",
    "datediff: a BIGINT on DuckDB, an INT on Spark (macro days_between).",
)


def strip_comments(text: str) -> str:
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    return "\n".join(line.split("--")[0] if not line.lstrip().startswith("{%") else line
                     for line in text.splitlines())


def inventory(root: Path = ROOT) -> tuple[dict[str, Counter], list[str]]:
    per_model: dict[str, Counter] = defaultdict(Counter)
    for path in sorted((root / "models").rglob("*.sql")) + sorted((root / "macros").glob("*.sql")):
        if path.name in PORT_MACROS:
            continue
        text = strip_comments(path.read_text(encoding="utf-8")).lower()
        for name, (pattern, _) in CONSTRUCTS.items():
            n = len(re.findall(pattern, text, flags=re.M))
            if n:
                per_model[path.stem][name] += n
    python_models = sorted(p.stem for p in (root / "models").rglob("*.py"))
    return per_model, python_models


def main() -> int:
    per_model, python_models = inventory(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    totals: Counter = Counter()
    models_of: dict[str, list[str]] = defaultdict(list)
    for model, counts in per_model.items():
        for name, n in counts.items():
            totals[name] += n
            models_of[name].append(model)
    def kind(name: str) -> str:
        return ("same" if name in SAME_ON_SPARK else "check" if name in CHECK_ON_SPARK
                else "UDF" if name in REGISTERED else "port")

    print("| construct | uses | models | kind | Spark |")
    print("|---|---|---|---|---|")
    for name, (_, spark) in CONSTRUCTS.items():
        if totals[name]:
            print(f"| {name} | {totals[name]} | {len(models_of[name])} | {kind(name)} | {spark} |")
    print(f"| Python models (dbt-spark session mode cannot run them) | {len(python_models)} | {len(python_models)} | "
          "port | explicit pipeline steps on Spark DataFrames |")
    print()
    by_kind: Counter = Counter()
    models_by_kind: dict[str, set] = defaultdict(set)
    for name, n in totals.items():
        by_kind[kind(name)] += n
        models_by_kind[kind(name)].update(models_of[name])
    print(f"Total: {sum(totals.values())} uses in {len(per_model)} SQL models and macros. To port: {by_kind['port']} "
          f"uses in {len(models_by_kind['port'])} models and macros; to check: {by_kind['check']} uses in "
          f"{len(models_by_kind['check'])} models; the same on Spark: {by_kind['same']}; "
          f"Python UDF calls (registered on Spark): {by_kind['UDF']}; and {len(python_models)} Python models.")
    print()
    print("| model | constructs |")
    print("|---|---|")
    for model in sorted(per_model):
        print(f"| {model} | " + ", ".join(f"{k} {v}" for k, v in sorted(per_model[model].items())) + " |")
    print()
    print("Python models: " + ", ".join(python_models))
    print()
    print("Differences of meaning, not found by pattern:")
    for note in SEMANTIC_NOTES:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
