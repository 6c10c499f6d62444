"""Masked copies of the marts for BI roles that need no contact data (PIPL Art. 51: least access).

The publication (``bullseye.publish``) holds the full ``marts`` tables, for the roles that
need contact data, and a schema ``marts_masked`` with one masked copy of each marts table in which:

- a phone shows its first three and last four digits: ``+8613812345678`` -> ``138****5678``;
- a name keeps its first character: ``王小明`` -> ``王**``;
- a birth date becomes a birth year (``birth_year``);
- email, ID-card hashes, street address, postcode, WeChat unionid, member card and household
  keys are left out.

The masked copies are made in the same publish as the tables, so they always show the same
night. (They are tables rather than views: DuckDB cannot bind a view inside a file whose name is
also a schema's, e.g. a publication named ``marts.duckdb``.) DuckDB has no users or grants:
point the BI connections of roles without contact data at ``marts_masked`` (or build their
extracts from it).
"""

from __future__ import annotations

import duckdb

from bullseye.publish import sql_identifier

MASKED_SCHEMA = "marts_masked"
# Columns left out of the masked copies: contact data and keys that identify a person.
DROPPED = {"email", "email_key", "address", "postcode", "wechat_unionid", "member_card_no", "id_card_hash",
           "id_card_no", "household_key", "contact", "phone_raw", "name_raw", "phone_e164"}
DROPPED_SUFFIXES = ("_hash",)
PHONES = {"phone"}
NAMES = {"name"}
BIRTH_DATES = {"birth_date"}


def mask_phone_sql(col: str) -> str:
    """SQL: the first three and last four digits of a phone's national number, the rest as stars."""
    digits = f"regexp_replace(regexp_replace({col}, '[^0-9]', '', 'g'), '^(0086|86)(1[3-9][0-9]{{9}})$', '\\2')"
    return (f"CASE WHEN {col} IS NULL THEN NULL WHEN length({digits}) < 8 THEN '****' "
            f"ELSE left({digits}, 3) || repeat('*', length({digits}) - 7) || right({digits}, 4) END")


def mask_name_sql(col: str) -> str:
    """SQL: a name's first character (the family name, for most Chinese names), the rest as stars."""
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE left({col}, 1) || repeat('*', greatest(length({col}) - 1, 1)) END"


def masked_select(columns: list[str]) -> list[str]:
    """The select list of the masked copy of a table with these columns."""
    out = []
    for col in columns:
        q = sql_identifier(col)
        low = col.lower()
        if low in DROPPED or low.endswith(DROPPED_SUFFIXES):
            continue
        if low in PHONES:
            out.append(f"{mask_phone_sql(q)} AS {q}")
        elif low in NAMES:
            out.append(f"{mask_name_sql(q)} AS {q}")
        elif low in BIRTH_DATES:
            out.append(f"year({q}) AS {sql_identifier(col.replace('birth_date', 'birth_year'))}")
        else:
            out.append(q)
    return out


def create_masked_tables(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> list[str]:
    """A masked copy in ``marts_masked`` of each table of ``schema`` in the connection's own database."""
    own = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {sql_identifier(own)}.{MASKED_SCHEMA}")
    tables = con.execute("""SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?
                            ORDER BY 1""", [own, schema]).fetchall()
    made = []
    for (table,) in tables:
        cols = [r[0] for r in con.execute("""SELECT column_name FROM duckdb_columns() WHERE database_name = ?
            AND schema_name = ? AND table_name = ? ORDER BY column_index""", [own, schema, table]).fetchall()]
        select = masked_select(cols)
        if not select:
            continue
        # Tables, not views: DuckDB cannot bind a view in a file whose name is also a schema's
        # (marts.duckdb); the copy is made in the same publish, so it shows the same night.
        con.execute(f"CREATE TABLE {sql_identifier(own)}.{MASKED_SCHEMA}.{sql_identifier(table)} AS "
                    f"SELECT {', '.join(select)} FROM {sql_identifier(own)}.{sql_identifier(schema)}."
                    f"{sql_identifier(table)}")
        made.append(table)
    return made
