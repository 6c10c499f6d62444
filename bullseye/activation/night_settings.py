"""Tonight's campaigns and contact policy, validated once and stored in the night's warehouse.

The campaign folder is read and validated once a night, by the load step (bullseye.pipeline); the
validated definitions go into ``settings.campaigns`` (one row: the night, the folder, the settings as
JSON), which the dbt models read as a source and the export step reads back. So every model and step
of a night plans with exactly the definitions that were checked, even if someone edits a YAML file
while the night runs, and the definitions a night used stay in its warehouse.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from bullseye.activation.campaigns import Campaign, ContactPolicy, settings_from_json, settings_json

# The declared table this module owns (a dbt source): only the load step writes it, only the export reads it
# here; models get it from dbt as source("settings", "campaigns").
SCHEMA, NAME = "settings", "campaigns"
TABLE = f"{SCHEMA}.{NAME}"


def store(con: duckdb.DuckDBPyConnection, as_of: date, folder: Path, campaigns: list[Campaign],
          policy: ContactPolicy) -> None:
    """Replace the stored settings with tonight's."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} (as_of DATE, folder VARCHAR, settings_json VARCHAR)")
    con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?)", [as_of, str(folder), settings_json(campaigns, policy)])


def read(con: duckdb.DuckDBPyConnection, as_of: date | str) -> tuple[list[Campaign], ContactPolicy]:
    """Tonight's stored settings; an error naming the night when they are another night's (or absent)."""
    rows = con.execute(f"SELECT as_of, settings_json FROM {TABLE}").fetchall() if _exists(con) else []
    return from_rows(rows, as_of)


def from_rows(rows: list[tuple], as_of: date | str) -> tuple[list[Campaign], ContactPolicy]:
    """Settings from the stored row (as_of, settings_json), checked to be tonight's: a dbt Python model
    reads the source as rows and calls this too."""
    stored = str(rows[0][0])[:10] if rows else None
    if stored != str(as_of)[:10]:
        found = f"those of {stored}" if stored else "none"
        raise RuntimeError(f"{TABLE} holds {found}, not the campaigns of {str(as_of)[:10]}: the night's load step "
                           f"validates and stores them (bullseye run --steps load, or the DAG's load task)")
    return settings_from_json(rows[0][1])


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [SCHEMA, NAME]).fetchall()[0][0] > 0


def from_relation(relation, as_of: date | str) -> tuple[list[Campaign], ContactPolicy]:
    """For a dbt Python model: the settings from ``dbt.source("settings", "campaigns")``."""
    df = relation.df()
    return from_rows(list(df[["as_of", "settings_json"]].itertuples(index=False, name=None)), as_of)
