"""The dbt project keeps its shape (issue 15): layers run one way, marts are documented, no hand-written names.

The rules read dbt's manifest (``bullseye.transform.compile_manifest``: a parse, no warehouse) and are
plain functions over the manifest dict, each returning its offences as sentences that name the model;
one test per rule, so a failure says which rule broke. ``test_each_rule_catches_its_offence`` feeds the
same functions a small hand-made manifest with one offence per rule, so none of them passes by being
blind.

The layers, from the folder a model sits in:
  models/staging/       stg_* models; they read sources only.
  models/intermediate/  int_* models; they read staging, other int_ models, seeds, and the state sources
                        the pipeline writes between nights (identity.*, history.*, settings.*).
  models/marts/         what BI and the exports read; they read stg_ and int_ models (and seeds, and
                        snapshots of int_ models), never a source and never another mart.

The columns a mart's yml documents are compared with the columns of the table dbt actually builds:
a demo night's ``load,build`` steps are run (on the session's demo landing zone, the same warehouse the
dbt unit tests run on, built once for both) and the columns read from DuckDB's information_schema.
Reading the SQL for its output columns would miss ``select *`` and Python models; the built table
cannot be wrong about itself. The int_ models are held to the same standard (every built column
described, nothing described that is not built), except those of UNDESCRIBED_INT, the older models
documented before the standard: a new int_ model is checked from its first commit, and a model
leaves the list once its yml is complete (the list may shrink, never grow).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from bullseye.config import PROJECT_ROOT

PROJECT = "bullseye"
LAYERS = ("staging", "intermediate", "marts")
PREFIX = {"staging": "stg_", "intermediate": "int_"}
# A relation named by hand: schema.table for the schemas dbt builds and the pipeline writes.
HAND_NAME = re.compile(r"\b(raw|staging|intermediate|marts|identity|history|settings|meta)\.[a-z_][a-z0-9_]*",
                       re.IGNORECASE)
GRAIN = re.compile(r"\b[Oo]ne row per\b")
# The domains of models/intermediate/, in build order (the README says the same): a model reads models of its
# own domain or an earlier one, so the folder names alone tell which feed which.
DOMAINS = ("identity", "sales", "contacts", "customer_value", "activation")
KEY_TESTS = {"unique_combination_of_columns", "dbt_utils_free_unique_combination"}
# int_ models whose yml does not yet describe every column (a backlog from before the standard was checked;
# issue 16's new and changed models are not on it). Remove a model once its yml is complete: the test says so.
UNDESCRIBED_INT = frozenset({
    "int_activation__decision_history", "int_activation__decisions", "int_activation__list_contacts",
    "int_activation__list_history", "int_campaign__attribution", "int_campaign__contacts",
    "int_contact__consent_events", "int_contact__ledger", "int_contact__list_terms", "int_contact__policy_settings",
    "int_contact__policy_state", "int_contact__response_propensity", "int_customer__clv", "int_customer__clv_params",
    "int_customer__clv_summary", "int_customer__golden_fields", "int_customer__interests",
    "int_customer__key_owners", "int_customer__next_best_category", "int_customer__profile",
    "int_customer__purchase_days", "int_customer__rfm", "int_identity__clusters", "int_identity__customer_map",
    "int_identity__edges", "int_identity__keys", "int_identity__records", "int_lists__records",
    "int_lookalike__prospects", "int_lookalike__scores", "int_order_lines__enriched",
    "int_orders__category_associations", "int_orders__enriched", "int_orders__margin", "int_service__interactions",
})
# Money (issue 17 item 9): every amount in yuan has the one money type of macros/money.sql, in the built marts
# and in their contracts. A numeric mart column is money when a word of its name (split at "_") is one of
# MONEY_WORDS (revenue_12m, cost_per_buyer, incremental_margin_ci_low, clv_52w, expected_avg_order_value ...),
# unless it is a rate or share (a last word in RATE_WORDS: margin_rate) or listed in NOT_MONEY.
MONEY_WORDS = frozenset({"amount", "revenue", "margin", "profit", "cost", "budget", "value", "clv", "gap", "target",
                         "monetary", "price", "spend"})
RATE_WORDS = frozenset({"rate", "share", "roi", "lift", "score", "probability"})
NOT_MONEY = frozenset({("clv_model_params", "value")})  # a fitted model parameter (r, alpha, p, q ...), not yuan
NUMERIC = re.compile(r"^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|HUGEINT|BIGINT|INTEGER)", re.IGNORECASE)
MONEY_MACRO = PROJECT_ROOT / "dbt_project" / "macros" / "money.sql"


def is_money(table: str, column: str, data_type: str) -> bool:
    """A numeric column whose name says it holds yuan (see MONEY_WORDS above)."""
    words = column.lower().split("_")
    return (bool(NUMERIC.match(data_type)) and bool(MONEY_WORDS & set(words)) and words[-1] not in RATE_WORDS
            and (table, column.lower()) not in NOT_MONEY)


def money_type() -> str:
    """The money type the macro money_type() renders (the one setting), upper-cased as DuckDB names types."""
    m = re.search(r"macro money_type\(\)\s*-?%}\s*([A-Za-z]+\(\d+,\s*\d+\))", MONEY_MACRO.read_text(encoding="utf-8"))
    assert m, f"{MONEY_MACRO} defines no money_type() macro"
    return m.group(1).upper().replace(" ", "")


def money_columns_have_the_money_type(manifest: dict, types: dict[tuple[str, str], str], money: str) -> list[str]:
    """Every money column of a built mart has the money type, and so does its contract's data_type."""
    out = []
    for (table, column), data_type in sorted(types.items()):
        if is_money(table, column, data_type) and data_type.upper().replace(" ", "") != money:
            out.append(f"{table}.{column} is {data_type}, not the money type {money}")
    for node in marts(manifest).values():
        for column, spec in node.get("columns", {}).items():
            declared = (spec.get("data_type") or "").upper().replace(" ", "")
            if declared and is_money(node["name"], column, declared) and declared != money:
                out.append(f"{node['name']}.{column}: its contract says {spec['data_type']}, "
                           f"not the money type {money}")
    return out


# ---------------------------------------------------------------- manifest helpers


def layer(node: dict) -> str | None:
    """staging, intermediate or marts from the model's folder (models/<layer>/...); None elsewhere."""
    parts = PurePosixPath(node["original_file_path"]).parts
    return parts[1] if len(parts) > 2 and parts[0] == "models" and parts[1] in LAYERS else None


def models(manifest: dict) -> dict[str, dict]:
    """The project's models by unique_id."""
    return {uid: n for uid, n in manifest["nodes"].items()
            if n["resource_type"] == "model" and n.get("package_name", PROJECT) == PROJECT}


def marts(manifest: dict) -> dict[str, dict]:
    return {uid: n for uid, n in models(manifest).items() if layer(n) == "marts"}


def parents(node: dict) -> list[str]:
    return list(node.get("depends_on", {}).get("nodes", []))


def _label(manifest: dict, uid: str) -> str:
    """A parent as a reader knows it: the model's name, source:schema.table, seed:name."""
    kind = uid.split(".", 1)[0]
    if kind == "source":
        src = manifest.get("sources", {}).get(uid, {})
        return f"source {src.get('source_name', '?')}.{src.get('name', uid.rsplit('.', 1)[-1])}"
    node = manifest["nodes"].get(uid, {})
    return node.get("name", uid) if kind == "model" else f"{kind} {node.get('name', uid)}"


def _tests_of(manifest: dict, uid: str) -> Iterator[dict]:
    for n in manifest["nodes"].values():
        if n["resource_type"] == "test" and n.get("attached_node") == uid:
            yield n


# ---------------------------------------------------------------- the rules


def staging_reads_only_sources(manifest: dict) -> list[str]:
    return [f"{n['name']} (staging) reads {_label(manifest, p)}: staging reads sources only"
            for n in models(manifest).values() if layer(n) == "staging"
            for p in parents(n) if not p.startswith("source.")]


def nothing_reads_a_mart(manifest: dict) -> list[str]:
    mart_ids = set(marts(manifest))
    return [f"{n['name']} ({layer(n) or n['resource_type']}) reads the mart {_label(manifest, p)}"
            for n in manifest["nodes"].values()
            if n["resource_type"] in ("model", "snapshot") for p in parents(n) if p in mart_ids]


def marts_read_only_stg_and_int(manifest: dict) -> list[str]:
    """A mart reads stg_/int_ models, seeds, and snapshots of those; a source it needs goes through
    staging (or an int_ model, for state) first, so that every source has one reading in the project."""
    nodes, offences = manifest["nodes"], []
    for n in marts(manifest).values():
        for p in parents(n):
            kind = p.split(".", 1)[0]
            if kind == "seed" or (kind == "model" and layer(nodes[p]) in ("staging", "intermediate")):
                continue
            if kind == "snapshot" and all(not q.startswith("model.") or layer(nodes[q]) in ("staging", "intermediate")
                                          for q in parents(nodes[p])):
                continue
            if kind == "model" and layer(nodes[p]) == "marts":
                continue  # nothing_reads_a_mart says it
            offences.append(f"{n['name']} (mart) reads {_label(manifest, p)}: marts read only stg_ and int_ models")
    return offences


def names_follow_layers(manifest: dict) -> list[str]:
    offences = []
    for n in models(manifest).values():
        where, name = layer(n), n["name"]
        if where is None:
            offences.append(f"{name} sits in {n['original_file_path']}, outside models/staging, "
                            "models/intermediate and models/marts")
        elif where in PREFIX and not name.startswith(PREFIX[where]):
            offences.append(f"{name} is in {where}/ but not named {PREFIX[where]}*")
        elif where == "marts" and name.startswith(tuple(PREFIX.values())):
            offences.append(f"{name} is a mart but named {name[:4]}*, the prefix of another layer")
    return offences


def marts_have_descriptions(manifest: dict) -> list[str]:
    return [f"{n['name']} (mart) has no description" for n in marts(manifest).values()
            if not (n.get("description") or "").strip()]


def marts_state_their_grain(manifest: dict) -> list[str]:
    return [f"{n['name']} (mart): its description states no grain ('One row per ...')"
            for n in marts(manifest).values() if not GRAIN.search(n.get("description") or "")]


def marts_have_a_key_test(manifest: dict) -> list[str]:
    """A primary key is tested: unique on a column, or a unique-combination test on several."""
    offences = []
    for uid, n in marts(manifest).items():
        kinds = {(t.get("test_metadata") or {}).get("name") for t in _tests_of(manifest, uid)
                 if (t.get("test_metadata") or {}).get("name") != "unique" or t.get("column_name")}
        if not kinds & ({"unique"} | KEY_TESTS):
            offences.append(f"{n['name']} (mart) has no primary-key test (unique on a column, or a unique "
                            "combination of columns)")
    return offences


def mart_columns_are_described(manifest: dict) -> list[str]:
    offences = []
    for n in marts(manifest).values():
        columns = n.get("columns") or {}
        if not columns:
            offences.append(f"{n['name']} (mart) documents no column")
        bare = sorted(c for c, spec in columns.items() if not (spec.get("description") or "").strip())
        if bare:
            offences.append(f"{n['name']} (mart): no description for column {', '.join(bare)}")
    return offences


def mart_columns_match_the_table(manifest: dict, built: dict[tuple[str, str], set[str]]) -> list[str]:
    """The yml's columns are the built table's columns: none undocumented, none documented that is not there.
    ``built`` maps (schema, table) to the table's columns (lowercase)."""
    offences = []
    for n in marts(manifest).values():
        table = (n["schema"], n.get("alias") or n["name"])
        if table not in built:
            offences.append(f"{n['name']} (mart) was not built as {table[0]}.{table[1]}")
            continue
        declared = {c.lower() for c in (n.get("columns") or {})}
        missing, stale = sorted(built[table] - declared), sorted(declared - built[table])
        if missing:
            offences.append(f"{n['name']} (mart): its yml lacks column {', '.join(missing)}")
        if stale:
            offences.append(f"{n['name']} (mart): its yml documents column {', '.join(stale)}, "
                            "which the table does not have")
    return offences


def int_columns_match_the_table(manifest: dict, built: dict[tuple[str, str], set[str]],
                                backlog: frozenset[str] = UNDESCRIBED_INT) -> list[str]:
    """Every column an int_ model builds is described in its yml, and the yml documents no column the table
    lacks; the models of ``backlog`` are left out, and one of them that now passes is an offence too (take
    it off the list, so it stays checked). ``built`` as for mart_columns_match_the_table."""
    offences = []
    for n in models(manifest).values():
        if layer(n) != "intermediate":
            continue
        name, table = n["name"], (n["schema"], n.get("alias") or n["name"])
        if table not in built:
            offences.append(f"{name} (int_) was not built as {table[0]}.{table[1]}")
            continue
        columns = {c.lower(): spec for c, spec in (n.get("columns") or {}).items()}
        bare = sorted(c for c in built[table] if not (columns.get(c, {}).get("description") or "").strip())
        stale = sorted(set(columns) - built[table])
        if name in backlog:
            if not bare and not stale:
                offences.append(f"{name} (int_) now describes every column: take it off UNDESCRIBED_INT")
            continue
        if bare:
            offences.append(f"{name} (int_): its yml does not describe column {', '.join(bare)}")
        if stale:
            offences.append(f"{name} (int_): its yml documents column {', '.join(stale)}, which the table "
                            "does not have")
    return offences


def _sql_code(raw: str) -> str:
    """The SQL a reader must trust: comments and ref()/source() calls taken out."""
    raw = re.sub(r"\{#.*?#\}", " ", raw, flags=re.DOTALL)
    raw = re.sub(r"/\*.*?\*/", " ", raw, flags=re.DOTALL)
    raw = re.sub(r"--[^\n]*", " ", raw)
    return re.sub(r"\b(ref|source)\s*\([^)]*\)", " ", raw)


def _python_strings(code: str) -> list[str]:
    """Every string literal of a Python file (f-string parts too), docstrings left out."""
    tree = ast.parse(code)
    docs = {id(body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and (body := node.body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def _bullseye_imports(code: str) -> list[str]:
    """The bullseye modules a Python model imports: the SQL they run is the model's SQL."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PROJECT:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == PROJECT]
    return found


def no_hand_written_relations(manifest: dict) -> list[str]:
    """A model names what it reads with ref() or source() (a Python model: dbt.ref, dbt.source), so that
    dbt sees the edge; schema.table written by hand is an edge dbt cannot see."""
    offences = []
    for n in models(manifest).values():
        code = n.get("raw_code") or ""
        if n.get("language", "sql") == "python":
            texts = [("", s) for s in _python_strings(code)]
            for module in _bullseye_imports(code):
                spec = importlib.util.find_spec(module)
                if spec and spec.origin and spec.origin.endswith(".py"):
                    texts += [(f" through {module}", s) for s in _python_strings(Path(spec.origin).read_text("utf-8"))]
            hits = sorted({(via, m.group(0)) for via, s in texts for m in HAND_NAME.finditer(s)})
        else:
            hits = sorted({("", m.group(0)) for m in HAND_NAME.finditer(_sql_code(code))})
        offences += [f"{n['name']} reads {name} by a hand-written name{via}" for via, name in hits]
    return offences


def domain(node: dict) -> str | None:
    """The folder under models/intermediate/ a model sits in."""
    parts = PurePosixPath(node["original_file_path"]).parts
    return parts[2] if layer(node) == "intermediate" and len(parts) > 3 else None


def domains_follow_their_order(manifest: dict, order: tuple[str, ...] = DOMAINS) -> list[str]:
    """Every int_ model sits in a domain folder of ``order`` and reads int_ models of its own domain or an
    earlier one."""
    rank = {name: i for i, name in enumerate(order)}
    nodes, offences = manifest["nodes"], []
    for n in models(manifest).values():
        if layer(n) != "intermediate":
            continue
        if domain(n) not in rank:
            offences.append(f"{n['name']} is not in a domain folder of models/intermediate/ ({', '.join(order)})")
            continue
        for p in parents(n):
            q = nodes.get(p)
            if q and q["resource_type"] == "model" and layer(q) == "intermediate" and domain(q) in rank \
                    and rank[domain(q)] > rank[domain(n)]:
                offences.append(f"{n['name']} ({domain(n)}) reads {q['name']} ({domain(q)}): against "
                                f"{' → '.join(order)}")
    return offences


def readme_flow(readme: str) -> list[str]:
    """The README's picture of the flow: the first 'a → b → c' naming staging."""
    for line in readme.splitlines():
        m = re.search(r"\b(\w+(?:\s*→\s*\w+)+)", line)
        if m and "staging" in m.group(1):
            return [w.strip() for w in m.group(1).split("→")]
    return []


def edges_follow_the_flow(manifest: dict, flow: list[str]) -> list[str]:
    """No edge goes backward along ``flow``: a model reads only models of its layer or an earlier one
    (a snapshot counts in the layer of what it snapshots)."""
    rank = {name: i for i, name in enumerate(flow)}
    nodes = manifest["nodes"]

    def rank_of(uid: str) -> int:
        node = nodes.get(uid)
        if node is None or node["resource_type"] in ("seed", "source"):
            return -1
        if node["resource_type"] == "snapshot":
            return max((rank_of(p) for p in parents(node)), default=-1)
        return rank.get(layer(node) or "", len(flow))

    offences = []
    for n in models(manifest).values():
        for p in parents(n):
            if p.startswith("model.") or p.startswith("snapshot."):
                if rank_of(p) > rank_of(n["unique_id"]):
                    offences.append(f"{n['name']} ({layer(n)}) reads {_label(manifest, p)} "
                                    f"({layer(nodes[p]) or nodes[p]['resource_type']}): against "
                                    f"{' → '.join(flow)}")
    return offences


# ---------------------------------------------------------------- the project's manifest


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    from bullseye.transform import compile_manifest

    path = compile_manifest(tmp_path_factory.mktemp("dbt_structure"))
    return json.loads(path.read_text(encoding="utf-8"))


def _ok(offences: list[str]) -> None:
    assert not offences, f"{len(offences)} offence(s):\n  " + "\n  ".join(offences)


def test_the_project_has_models_in_every_layer(manifest):
    seen = {layer(n) for n in models(manifest).values()}
    assert set(LAYERS) <= seen, f"no model in {set(LAYERS) - seen}: the rules below would check nothing"
    assert len(marts(manifest)) >= 20


def test_staging_reads_only_sources(manifest):
    _ok(staging_reads_only_sources(manifest))


def test_no_model_reads_a_mart(manifest):
    _ok(nothing_reads_a_mart(manifest))


def test_marts_read_only_stg_and_int_models(manifest):
    _ok(marts_read_only_stg_and_int(manifest))


def test_model_names_follow_their_layer(manifest):
    _ok(names_follow_layers(manifest))


def test_every_mart_has_a_description(manifest):
    _ok(marts_have_descriptions(manifest))


def test_every_mart_states_its_grain(manifest):
    _ok(marts_state_their_grain(manifest))


def test_every_mart_has_a_primary_key_test(manifest):
    _ok(marts_have_a_key_test(manifest))


def test_every_mart_column_is_described(manifest):
    _ok(mart_columns_are_described(manifest))


def test_no_model_reads_a_relation_by_a_hand_written_name(manifest):
    _ok(no_hand_written_relations(manifest))


def test_the_readmes_flow_is_true_of_the_graph(manifest):
    flow = readme_flow((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert [w for w in flow if w in LAYERS] == list(LAYERS), f"the README's flow is {' → '.join(flow) or 'missing'}"
    _ok(edges_follow_the_flow(manifest, flow))


def test_intermediate_domains_follow_their_order(manifest):
    _ok(domains_follow_their_order(manifest))
    assert " → ".join(DOMAINS) in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8"), \
        "the README must state the order of the intermediate domains"


def test_the_domain_rule_catches_its_offence():
    def node(name: str, folder: str, reads: list[str]) -> dict:
        return {"resource_type": "model", "name": name, "package_name": PROJECT, "unique_id": f"model.{PROJECT}.{name}",
                "original_file_path": f"models/intermediate/{folder}/{name}.sql",
                "depends_on": {"nodes": [f"model.{PROJECT}.{r}" for r in reads]}}
    fake = {"nodes": {n["unique_id"]: n for n in (node("int_a", "identity", ["int_b"]), node("int_b", "sales", []),
                                                  node("int_c", "misc", []))}}
    assert domains_follow_their_order(fake) == [
        "int_a (identity) reads int_b (sales): against identity → sales → contacts → customer_value → activation",
        "int_c is not in a domain folder of models/intermediate/ (identity, sales, contacts, customer_value, "
        "activation)"]


@pytest.fixture(scope="module")
def built_columns(demo_night, tmp_path_factory) -> dict[tuple[str, str], set[str]]:
    """(schema, table) -> columns of the marts and int_ tables of a demo night's warehouse (load and build
    only; the warehouse is shared with tests/test_dbt_unit_tests.py, built once per session)."""
    import duckdb

    from tests.test_dbt_unit_tests import demo_warehouse

    warehouse = demo_warehouse(demo_night, tmp_path_factory)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT table_schema, table_name, lower(column_name) FROM information_schema.columns "
                           "WHERE table_schema IN ('marts', 'intermediate')").fetchall()
    finally:
        con.close()
    built: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        built.setdefault((schema, table), set()).add(column)
    return built


@pytest.fixture(scope="module")
def built_mart_types(demo_night, tmp_path_factory) -> dict[tuple[str, str], str]:
    """(table, column) -> DuckDB type of every column of the marts of the same demo warehouse."""
    import duckdb

    from tests.test_dbt_unit_tests import demo_warehouse

    con = duckdb.connect(str(demo_warehouse(demo_night, tmp_path_factory)), read_only=True)
    try:
        rows = con.execute("SELECT table_name, lower(column_name), data_type FROM duckdb_columns() "
                           "WHERE schema_name = 'marts'").fetchall()
    finally:
        con.close()
    return {(table, column): data_type for table, column, data_type in rows}


@pytest.mark.slow
def test_every_money_column_has_the_money_type(manifest, built_mart_types):
    """Amounts in yuan are one exact type (macros/money.sql: DECIMAL(18,2)), in the tables and their contracts;
    the count guards against a pattern that matches nothing (fct_orders alone has four money columns)."""
    money = money_type()
    assert money == "DECIMAL(18,2)", f"macros/money.sql renders {money}: update the contracts and this test together"
    found = [key for key, t in built_mart_types.items() if is_money(*key, t)]
    assert len(found) >= 40, f"only {len(found)} money columns found in the marts: {sorted(found)}"
    _ok(money_columns_have_the_money_type(manifest, built_mart_types, money))


def test_the_money_rule_catches_its_offence():
    """A double revenue and a wide-decimal margin are offences, a rate or a model parameter is not money, and a
    contract naming another type is caught even when the table is right."""
    types = {("fct_orders", "margin"): "DECIMAL(38,4)", ("customer_segments", "revenue_12m"): "DOUBLE",
             ("customer_clv", "margin_rate"): "DOUBLE", ("clv_model_params", "value"): "DOUBLE",
             ("customer_segments", "budget_source"): "VARCHAR", ("fct_orders", "amount"): "DECIMAL(18,2)"}
    fake = {"nodes": {"model.bullseye.fct_orders": {
        "resource_type": "model", "name": "fct_orders", "package_name": PROJECT,
        "unique_id": "model.bullseye.fct_orders", "original_file_path": "models/marts/x/fct_orders.sql",
        "columns": {"amount": {"data_type": "double"}, "n_lines": {"data_type": "bigint"}}}}}
    assert money_columns_have_the_money_type(fake, types, "DECIMAL(18,2)") == [
        "customer_segments.revenue_12m is DOUBLE, not the money type DECIMAL(18,2)",
        "fct_orders.margin is DECIMAL(38,4), not the money type DECIMAL(18,2)",
        "fct_orders.amount: its contract says double, not the money type DECIMAL(18,2)"]


@pytest.mark.slow
def test_mart_yml_columns_are_the_built_tables_columns(manifest, built_columns):
    _ok(mart_columns_match_the_table(manifest, built_columns))


@pytest.mark.slow
def test_int_yml_describes_every_built_column(manifest, built_columns):
    """Outside the UNDESCRIBED_INT backlog, an int_ model's yml describes each column its table has."""
    _ok(int_columns_match_the_table(manifest, built_columns))


# ---------------------------------------------------------------- the rules can fail


def _model(name: str, path: str, deps: tuple[str, ...] = (), *, description: str = "", code: str = "select 1",
           language: str = "sql", columns: dict[str, str] | None = None) -> dict:
    return {"resource_type": "model", "package_name": PROJECT, "name": name, "unique_id": f"model.{PROJECT}.{name}",
            "original_file_path": f"models/{path}", "schema": path.split("/")[0], "alias": name,
            "depends_on": {"nodes": list(deps)}, "description": description, "raw_code": code,
            "language": language, "columns": {c: {"name": c, "description": d} for c, d in (columns or {}).items()}}


def _test(name: str, model: str, column: str | None = None) -> dict:
    return {"resource_type": "test", "name": f"{name}_{model}_{column}", "attached_node": f"model.{PROJECT}.{model}",
            "column_name": column, "test_metadata": {"name": name, "kwargs": {}}}


def _fake_manifest() -> dict:
    """One good model per layer, then one offence per rule."""
    src = "source.bullseye.crm.customers"
    good_mart = dict(description="One row per customer.", columns={"customer_id": "The person."})
    nodes = [
        _model("stg_crm__customers", "staging/stg_crm__customers.sql", (src,)),
        _model("int_customer__base", "intermediate/x/int_customer__base.sql", ("model.bullseye.stg_crm__customers",)),
        _model("dim_customer", "marts/x/dim_customer.sql", ("model.bullseye.int_customer__base",), **good_mart),
        _test("unique", "dim_customer", "customer_id"),
        # staging reads a model
        _model("stg_crm__joined", "staging/stg_crm__joined.sql", (src, "model.bullseye.stg_crm__customers")),
        # an int_ model reads a mart (and so an edge goes backward)
        _model("int_customer__late", "intermediate/x/int_customer__late.sql", ("model.bullseye.dim_customer",)),
        # a mart reads a mart and a source; it has no grain, no key test, an undescribed column
        _model("customer_report", "marts/x/customer_report.sql", ("model.bullseye.dim_customer", src),
               description="Customers and their orders.", columns={"customer_id": "", "n_orders": "Orders."}),
        _test("not_null", "customer_report", "customer_id"),
        # a mart without a description (it has a unique-combination key test)
        _model("order_facts", "marts/x/order_facts.sql", ("model.bullseye.int_customer__base",),
               columns={"order_id": "The order."}),
        {**_test("dbt_utils_free_unique_combination", "order_facts"), "column_name": None},
        # names that do not follow the layer, and a model outside the layers
        _model("customers_clean", "staging/customers_clean.sql", (src,)),
        _model("customer_base", "intermediate/x/customer_base.sql", ("model.bullseye.stg_crm__customers",)),
        _model("int_kpis", "marts/x/int_kpis.sql", ("model.bullseye.int_customer__base",), **good_mart),
        _test("unique", "int_kpis", "customer_id"),
        _model("scratch", "scratch/scratch.sql"),
        # hand-written names: in SQL (a comment and a ref() naming one do not count), and in a Python model
        _model("int_orders__by_hand", "intermediate/x/int_orders__by_hand.sql",
               code="-- reads marts.fct_orders in spirit\nselect * from {{ ref('stg_crm__customers') }}\n"
                    "join intermediate.int_orders__enriched using (customer_id)"),
        _model("int_orders__py", "intermediate/x/int_orders__py.py", language="python",
               code='"""Reads marts.fct_orders in its docstring only."""\n\ndef model(dbt, session):\n'
                    '    return session.sql(f"select * from history.contact_decisions").df()\n'),
    ]
    manifest = {"nodes": {n.get("unique_id", f"test.{PROJECT}.{n['name']}"): n for n in nodes},
                "sources": {src: {"source_name": "crm", "name": "customers"}}}
    for uid, n in manifest["nodes"].items():
        n.setdefault("unique_id", uid)
    return manifest


def test_each_rule_catches_its_offence():
    m = _fake_manifest()
    assert staging_reads_only_sources(m) == [
        "stg_crm__joined (staging) reads stg_crm__customers: staging reads sources only"]
    assert sorted(nothing_reads_a_mart(m)) == [
        "customer_report (marts) reads the mart dim_customer",
        "int_customer__late (intermediate) reads the mart dim_customer"]
    assert marts_read_only_stg_and_int(m) == [
        "customer_report (mart) reads source crm.customers: marts read only stg_ and int_ models"]
    assert sorted(names_follow_layers(m)) == [
        "customer_base is in intermediate/ but not named int_*",
        "customers_clean is in staging/ but not named stg_*",
        "int_kpis is a mart but named int_*, the prefix of another layer",
        "scratch sits in models/scratch/scratch.sql, outside models/staging, models/intermediate and models/marts"]
    assert marts_have_descriptions(m) == ["order_facts (mart) has no description"]
    assert sorted(marts_state_their_grain(m)) == [
        "customer_report (mart): its description states no grain ('One row per ...')",
        "order_facts (mart): its description states no grain ('One row per ...')"]
    assert marts_have_a_key_test(m) == [
        "customer_report (mart) has no primary-key test (unique on a column, or a unique combination of columns)"]
    assert mart_columns_are_described(m) == ["customer_report (mart): no description for column customer_id"]
    built = {("marts", "dim_customer"): {"customer_id", "phone"}, ("marts", "customer_report"): {"customer_id"},
             ("marts", "int_kpis"): {"customer_id"}}
    assert sorted(mart_columns_match_the_table(m, built)) == [
        "customer_report (mart): its yml documents column n_orders, which the table does not have",
        "dim_customer (mart): its yml lacks column phone",
        "order_facts (mart) was not built as marts.order_facts"]
    int_built = {("intermediate", "int_customer__base"): {"customer_id", "phone"},
                 ("intermediate", "int_customer__late"): set(), ("intermediate", "customer_base"): set(),
                 ("intermediate", "int_orders__py"): {"order_id"}}
    m["nodes"]["model.bullseye.int_customer__base"]["columns"] = {
        "customer_id": {"description": "The person."}, "phone": {"description": " "}, "email": {"description": "x"}}
    assert sorted(int_columns_match_the_table(m, int_built, frozenset({"int_customer__late", "int_orders__py"}))) == [
        "int_customer__base (int_): its yml documents column email, which the table does not have",
        "int_customer__base (int_): its yml does not describe column phone",
        "int_customer__late (int_) now describes every column: take it off UNDESCRIBED_INT",
        "int_orders__by_hand (int_) was not built as intermediate.int_orders__by_hand"]
    assert sorted(no_hand_written_relations(m)) == [
        "int_orders__by_hand reads intermediate.int_orders__enriched by a hand-written name",
        "int_orders__py reads history.contact_decisions by a hand-written name"]
    assert readme_flow("| build | staging → intermediate → marts, as of `--as-of` |") == [
        "staging", "intermediate", "marts"]
    assert edges_follow_the_flow(m, ["staging", "intermediate", "marts"]) == [
        "int_customer__late (intermediate) reads dim_customer (marts): against staging → intermediate → marts"]
