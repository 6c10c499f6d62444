"""One person's rows, wherever they are stored: who the person is, and a SQL test per table.

``bullseye forget`` erases these rows and ``bullseye subject-access`` reads them, so the two
always agree on what "everything stored about a person" is. The person is found through the
identity tables (``marts.customer_identity_map``, ``identity.registry``,
``intermediate.int_identity__id_lineage``, ``__records``, ``__keys``): every id they ever had,
every source record, every phone, email, ID-card hash, WeChat unionid and member card those
records carry, their orders, and each (name, birth date) they were delivered with.

A table's rows belong to the person when any text column holds one of their ids, record ids,
tokens or emails, or one of their phones in any written form (``0086-138-1234-5678``); when the
table's (source_system, source_customer_id), (list_id, list_record_id) or order columns name
their records; or when its name and birth date are theirs. Nested and JSON columns are searched
as text. Identifiers that another person also carries (a family's shared phone) are *shared*:
they do not make a row the person's, so forgetting one person never erases another's data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date

import duckdb

from bullseye import normalize
from bullseye.privacy.keys import id_card_hash
from bullseye.publish import sql_identifier, sql_literal

LOOKUPS = ("phone", "email", "id_card", "customer_id")
# Separators people write phones with; removed before a national number is searched for.
PHONE_SEPARATORS = r"[\s\-().+/]"


class PersonError(ValueError):
    """The person cannot be told apart (a shared phone, an unknown id...); the message says what to do."""


@dataclass
class Person:
    """Everything that identifies one person in the warehouse (see the module docstring)."""

    lookup: tuple[str, str]  # (kind, value as given)
    customer_ids: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)  # (source, source_record_id)
    phones: set[str] = field(default_factory=set)  # E.164
    emails: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # ID-card hashes (and clear numbers), unionids, member cards
    id_hashes: set[str] = field(default_factory=set)
    unionids: set[str] = field(default_factory=set)
    member_cards: set[str] = field(default_factory=set)
    orders: set[tuple[str, str]] = field(default_factory=set)  # (source_system, order_id)
    name_births: set[tuple[str, date]] = field(default_factory=set)
    shared: dict[str, int] = field(default_factory=dict)  # kind -> identifiers kept: another person has them

    @property
    def record_keys(self) -> set[str]:
        return {f"{s}|{r}" for s, r in self.records}

    @property
    def national_phones(self) -> set[str]:
        """11-digit national numbers of the domestic phones (how they are written in most files)."""
        return {p[3:] for p in self.phones if p.startswith("+86")} | {p for p in self.phones if not p.startswith("+86")}

    def pairs(self, source: str) -> set[tuple[str, str]]:
        """(system or list, id) of the person's records of one source, split at the first ':'."""
        return {tuple(rid.split(":", 1)) for s, rid in self.records if s == source and ":" in rid}

    def is_empty(self) -> bool:
        return not (self.customer_ids or self.records or self.phones or self.emails or self.tokens)


# --- finding the person ---------------------------------------------------------------------

def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                       [schema, table]).fetchall()[0][0] > 0


def _rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, sql: str, params: list) -> list[tuple]:
    """``sql`` when ``schema.table`` exists (a new warehouse lacks most tables), else no rows."""
    return con.execute(sql, params).fetchall() if has_table(con, schema, table) else []


def locate(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> Person:
    """The person a phone, email, ID-card number or customer_id names, with all their identifiers.

    Raises PersonError when the value is unreadable or names more than one person."""
    person = Person(lookup=(kind, value))
    key = _lookup_key(kind, value)
    ids = _customer_ids_for(con, kind, key)
    if len(ids) > 1:
        raise PersonError(f"the {kind} given belongs to {len(ids)} people in the warehouse; forget or look up "
                          f"one of them by --customer-id ({', '.join(sorted(ids))})")
    if not ids:  # nobody resolved: the value alone still marks rows (a contact, a consent, a quarantined row)
        {"phone": person.phones, "email": person.emails, "id_card": person.id_hashes,
         "customer_id": person.customer_ids}[kind].add(key)
        person.tokens |= person.id_hashes
        return person
    person.customer_ids = _all_ids(con, ids)
    _collect(con, person)
    return person


def _lookup_key(kind: str, value: str) -> str:
    if kind == "phone":
        key = normalize.phone_e164(value)
    elif kind == "email":
        key = normalize.email_norm(value)
    elif kind == "id_card":
        key = id_card_hash(value)
    elif kind == "customer_id":
        key = value.strip() or None
    else:
        raise PersonError(f"a person is looked up by one of {', '.join(LOOKUPS)}, not {kind!r}")
    if key is None:
        raise PersonError(f"cannot read the {kind} {value!r}")
    return key


def _customer_ids_for(con: duckdb.DuckDBPyConnection, kind: str, key: str) -> set[str]:
    """Tonight's customer_id(s) of the person the lookup names."""
    if kind == "customer_id":
        rows = _rows(con, "intermediate", "int_identity__id_lineage", """SELECT current_customer_id
            FROM intermediate.int_identity__id_lineage WHERE customer_id = ?""", [key])
        rows += _rows(con, "marts", "dim_customer", "SELECT customer_id FROM marts.dim_customer WHERE customer_id = ?",
                      [key])
        return {r[0] for r in rows if r[0]}
    key_type = {"phone": "phone", "email": "email", "id_card": "id_card"}[kind]
    records = _rows(con, "intermediate", "int_identity__keys", """SELECT source, source_record_id
        FROM intermediate.int_identity__keys WHERE key_type = ? AND key_value = ?""", [key_type, key])
    if kind in ("phone", "email"):
        records += _rows(con, "intermediate", "int_identity__records", f"""SELECT source, source_record_id
            FROM intermediate.int_identity__records WHERE {kind} = ?""", [key])
    if not records or not has_table(con, "marts", "customer_identity_map"):
        return set()
    con.execute("CREATE OR REPLACE TEMP TABLE _pf_records (source VARCHAR, source_record_id VARCHAR)")
    con.executemany("INSERT INTO _pf_records VALUES (?, ?)", sorted(set(records)))
    ids = {r[0] for r in con.execute("""SELECT DISTINCT m.customer_id FROM marts.customer_identity_map m
        JOIN _pf_records USING (source, source_record_id)""").fetchall()}
    con.execute("DROP TABLE _pf_records")
    return ids


def _all_ids(con: duckdb.DuckDBPyConnection, current: set[str]) -> set[str]:
    """Every id the person ever had: tonight's and those merges retired into it."""
    ids = set(current)
    for cid in current:
        ids |= {r[0] for r in _rows(con, "intermediate", "int_identity__id_lineage", """SELECT customer_id
            FROM intermediate.int_identity__id_lineage WHERE current_customer_id = ?""", [cid])}
    return ids


def _collect(con: duckdb.DuckDBPyConnection, p: Person) -> None:
    """Fill in the person's records, identifiers and orders; set aside identifiers others share."""
    ids = sorted(p.customer_ids)
    marks = ", ".join("?" * len(ids))
    p.records |= set(_rows(con, "marts", "customer_identity_map", f"""SELECT source, source_record_id
        FROM marts.customer_identity_map WHERE customer_id IN ({marks})""", ids))
    for (rec,) in _rows(con, "identity", "registry",
                        f"SELECT DISTINCT record FROM identity.registry WHERE customer_id IN ({marks})", ids):
        source, _, rid = rec.partition("|")
        p.records.add((source, rid))
    con.execute("CREATE OR REPLACE TEMP TABLE _pf_records (source VARCHAR, source_record_id VARCHAR)")
    con.executemany("INSERT INTO _pf_records VALUES (?, ?)", sorted(p.records))
    for name, birth, phone, email in _rows(con, "intermediate", "int_identity__records", """
            SELECT r.name, r.birth_date, r.phone, r.email FROM intermediate.int_identity__records r
            JOIN _pf_records USING (source, source_record_id)""", []):
        if name and birth:
            p.name_births.add((name, birth))
        if phone:
            p.phones.add(phone)
        if email:
            p.emails.add(email)
    kinds = {"phone": p.phones, "email": p.emails, "id_card": p.id_hashes, "wechat_unionid": p.unionids,
             "member_card": p.member_cards}
    for key_type, value in _rows(con, "intermediate", "int_identity__keys", """SELECT DISTINCT key_type, key_value
            FROM intermediate.int_identity__keys JOIN _pf_records USING (source, source_record_id)""", []):
        if key_type in kinds and value:
            kinds[key_type].add(value)
    for row in _rows(con, "staging", "stg_crm__customers", """SELECT source_record_id, phone_e164, email_key,
            id_card_hash, wechat_unionid, member_card_no FROM staging.stg_crm__customers
            WHERE source_record_id IN (SELECT source_record_id FROM _pf_records WHERE source = 'crm_customers')""",
                     []):
        for kind, value in zip(("phone", "email", "id_card", "wechat_unionid", "member_card"), row[1:], strict=True):
            if value:
                kinds[kind].add(value)
    _set_aside_shared(con, p, kinds)
    p.tokens = p.id_hashes | p.unionids | p.member_cards
    p.tokens |= _clear_id_numbers(con, p)
    p.orders = set(_rows(con, "marts", "fct_orders", f"""SELECT source_system, order_id FROM marts.fct_orders
        WHERE customer_id IN ({marks})""", ids))
    p.orders |= set(_rows(con, "staging", "stg_sales__orders", """SELECT source_system, order_id
        FROM staging.stg_sales__orders WHERE source_record_id IN (
            SELECT source_record_id FROM _pf_records WHERE source = 'crm_customers')""", []))
    con.execute("DROP TABLE _pf_records")


def _set_aside_shared(con: duckdb.DuckDBPyConnection, p: Person, kinds: dict[str, set[str]]) -> None:
    """Drop from ``kinds`` every identifier that a record of another person carries too."""
    if not (has_table(con, "intermediate", "int_identity__keys") and has_table(con, "marts", "customer_identity_map")):
        return
    ids = sorted(p.customer_ids)
    others = con.execute(f"""SELECT DISTINCT k.key_type, k.key_value FROM intermediate.int_identity__keys k
        JOIN marts.customer_identity_map m USING (source, source_record_id)
        WHERE m.customer_id NOT IN ({", ".join("?" * len(ids))})""", ids).fetchall()
    taken = set(others)
    for kind, values in kinds.items():
        shared = {v for v in values if (kind, v) in taken}
        if shared:
            p.shared[kind] = len(shared)
            values -= shared


def _clear_id_numbers(con: duckdb.DuckDBPyConnection, p: Person) -> set[str]:
    """ID-card numbers still held in clear in raw (older warehouses) whose hash is the person's."""
    if not p.id_hashes or not has_table(con, "raw", "crm_customers"):
        return set()
    cols = {r[0] for r in con.execute("""SELECT column_name FROM duckdb_columns()
        WHERE schema_name = 'raw' AND table_name = 'crm_customers'""").fetchall()}
    if "id_card_no" not in cols:
        return set()
    values = con.execute("SELECT DISTINCT id_card_no FROM raw.crm_customers WHERE id_card_no IS NOT NULL").fetchall()
    return {v for (v,) in values if id_card_hash(v) in p.id_hashes}


# --- the rows of the person in one table ----------------------------------------------------

def _in(expr: str, values: set) -> str:
    return f"{expr} IN ({', '.join(sql_literal(v) for v in sorted(values))})"


def _pair_in(a: str, b: str, pairs: set[tuple[str, str]]) -> str:
    return f"({a}, {b}) IN ({', '.join(f'({sql_literal(x)}, {sql_literal(y)})' for x, y in sorted(pairs))})"


def _text_pattern(p: Person) -> str | None:
    """One case-insensitive RE2 alternation of the values searched for inside any text, each standing
    alone (``li@qq.com`` must not match ``wangli@qq.com``, nor ``C1`` match ``C12``)."""
    needles = sorted(p.customer_ids | p.emails | p.tokens)
    if not needles:
        return None
    before = r"(^|[^0-9a-z._%+@-])"
    after = r"($|[^0-9a-z_%+@.-]|\.($|[^0-9a-z]))"  # a final full stop ends a sentence, not a domain
    return f"(?i){before}({'|'.join(re.escape(n) for n in needles)}){after}"


def _phone_pattern(p: Person) -> str | None:
    """RE2 for the person's phones in text whose separators were removed: the national number,
    alone or after 86 / 0086, not inside a longer run of digits."""
    if not p.phones:
        return None
    return f"(^|[^0-9])(0086|86)?({'|'.join(sorted(p.national_phones))})($|[^0-9])"


def row_condition(p: Person, columns: list[tuple[str, str]]) -> str | None:
    """SQL that is true for the rows of a table (given its (column, type) list) that are the person's."""
    names = {c for c, _ in columns}
    text_cols = [c for c, t in columns if t == "VARCHAR"]
    nested = [c for c, t in columns if t != "VARCHAR" and (t.endswith("[]") or t.startswith(("STRUCT", "MAP", "JSON")))]
    conds: list[str] = []
    exact = {r for _, r in p.records} | p.record_keys | p.customer_ids | p.phones | p.tokens
    pattern = _text_pattern(p)
    phones = _phone_pattern(p)
    for col in text_cols + nested:
        c = sql_identifier(col) + ("::VARCHAR" if col in nested else "")
        if exact and col in text_cols:
            conds.append(_in(c, exact))
        if pattern:
            conds.append(f"regexp_matches({c}, {sql_literal(pattern)})")
        if phones:
            conds.append(f"regexp_matches(regexp_replace({c}, {sql_literal(PHONE_SEPARATORS)}, '', 'g'), "
                         f"{sql_literal(phones)})")
    conds += _pair_conditions(p, names)
    if "record" in names and "source" in names:
        conds += _quarantine_record_conditions(p)
    return " OR ".join(f"coalesce({c}, false)" for c in conds) if conds else None


def _pair_conditions(p: Person, names: set[str]) -> list[str]:
    """Rows named by a source key that is unique only together with its system or list."""
    conds = []
    crm = p.pairs("crm_customers")
    if crm and {"source_system", "source_customer_id"} <= names:
        conds.append(_pair_in("coalesce(trim(source_system), 'crm')", "trim(source_customer_id)", crm))
    lists = p.pairs("lists")
    if lists and {"list_id", "list_record_id"} <= names:
        conds.append(_pair_in("list_id", "list_record_id", lists))
    if p.orders and "order_id" in names:
        system = next((s for s in ("source_system", "order_source_system", "delivered_source_system") if s in names),
                      None)
        if system:
            conds.append(_pair_in(f"coalesce(trim({system}), 'crm')", "trim(order_id)", p.orders))
            # a line delivered without its system attaches to the one order with its number
            conds.append(f"({system} IS NULL AND {_in('trim(order_id)', {o for _, o in p.orders})})")
        if "order_key" in names:
            conds.append(_in("order_key", {f"{s}:{o}" for s, o in p.orders}))
    if p.name_births:
        for name_col in ("name", "name_raw"):
            if name_col in names and "birth_date" in names:
                pairs = ", ".join(f"({sql_literal(n)}, DATE {sql_literal(b.isoformat())})"
                                  for n, b in sorted(p.name_births))
                conds.append(f"({name_col}, TRY_CAST(birth_date AS DATE)) IN ({pairs})")
    return conds


def _quarantine_record_conditions(p: Person) -> list[str]:
    """A held row kept in ``meta.quarantine.record`` (JSON) that names one of the person's records."""
    conds = []
    field_of = "CASE WHEN json_valid(record) THEN json_extract_string(record, '$.{}') END"
    crm = p.pairs("crm_customers")
    if crm:
        system = f"coalesce(trim({field_of.format('source_system')}), 'crm')"
        conds.append(f"(source IN ('crm_customers', 'orders', 'service') AND "
                     f"{_pair_in(system, 'trim(' + field_of.format('source_customer_id') + ')', crm)})")
    lists = p.pairs("lists")
    if lists:
        record_id = _in("trim(" + field_of.format("list_record_id") + ")", {r for _, r in lists})
        folders = sql_literal("|".join(re.escape(lid) for lid, _ in lists))
        conds.append(f"(source = 'lists' AND {record_id} AND regexp_matches(path, {folders}))")
    if p.name_births:
        conds.append("(" + " OR ".join(
            f"(contains(record, {sql_literal(json.dumps(n, ensure_ascii=False))}) "
            f"AND contains(record, {sql_literal(b.isoformat())}))"
            for n, b in sorted(p.name_births)) + ")")
    return conds


def table_columns(con: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[tuple[str, str], list]:
    """(schema, table) -> [(column, type)] for every base table (views follow their tables)."""
    where = "database_name = ?" if database else "database_name = current_database()"
    rows = con.execute(f"""SELECT c.schema_name, c.table_name, c.column_name, c.data_type
        FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE {where} AND NOT t.temporary ORDER BY c.schema_name, c.table_name, c.column_index""",
                       [database] if database else []).fetchall()
    out: dict[tuple[str, str], list] = {}
    for schema, table, col, typ in rows:
        out.setdefault((schema, table), []).append((col, typ))
    return out


def text_matcher(p: Person):
    """A Python test for one cell (of an export file): does it hold one of the person's values?

    Same rules as :func:`row_condition` for text: an id, record id, token or email anywhere in it,
    or a phone in any written form. None when there is nothing to look for."""
    pattern = _text_pattern(p)
    text_re = re.compile(pattern[4:], re.IGNORECASE) if pattern else None
    phone_pattern = _phone_pattern(p)
    phone_re = re.compile(phone_pattern) if phone_pattern else None
    separators = re.compile(PHONE_SEPARATORS)
    if text_re is None and phone_re is None:
        return None

    def matches(value: object) -> bool:
        if value is None or (isinstance(value, float) and value != value):
            return False
        text = str(value)
        return bool((text_re and text_re.search(text)) or (phone_re and phone_re.search(separators.sub("", text))))

    return matches
