"""The identity state kept in the warehouse between nights (schema ``identity``).

dbt rebuilds the marts from scratch every night, but stable ids, the merge journal
and the trained match model must survive from one night to the next, so they live
in their own schema that dbt never drops. Every row is keyed by the run date, and a
night that is run again first rolls its own rows back: re-running a night gives the
same state, and backfilling an older date does not leave newer rows behind.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd

from bullseye.identity.matching import MatchModel

DDL = """
create schema if not exists identity;
create table if not exists identity.registry (
    record varchar not null, customer_id varchar not null, valid_from date not null, valid_to date);
create table if not exists identity.journal (
    as_of date not null, event varchar not null, old_customer_id varchar not null,
    new_customer_id varchar not null, records integer, reason varchar);
create table if not exists identity.match_models (
    trained_on date not null, n_records bigint, settings varchar not null);
create table if not exists identity.match_tf (
    trained_on date not null, col varchar not null, value varchar, tf double);
create table if not exists identity.match_inputs (unique_id varchar not null, row_hash varchar not null);
create table if not exists identity.match_edges (
    unique_id_l varchar not null, unique_id_r varchar not null, match_weight double, match_probability double);
create table if not exists identity.refused_edges (
    as_of date not null, a varchar, b varchar, rule varchar, reason varchar);
create table if not exists identity.runs (
    as_of date not null, mode varchar, model_trained_on date, records bigint, rescored_records bigint,
    match_edges bigint, people bigint, new_people bigint, merges bigint, splits bigint,
    changed_share double, cluster_sizes varchar, source_match_share varchar,
    blocked boolean, block_reason varchar, seconds double);
alter table identity.runs add column if not exists matching varchar;
alter table identity.match_edges add column if not exists guard varchar;
alter table identity.runs add column if not exists matching_note varchar;
alter table identity.runs add column if not exists match_threshold double;
create table if not exists identity.acks (
    as_of date not null, acknowledged_by varchar, note varchar, acknowledged_at timestamp);
"""


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in DDL.split(";"):
        if stmt.strip():
            con.execute(stmt)


def rollback(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Undo what nights on or after ``as_of`` wrote (the model and match cache stay)."""
    con.execute("delete from identity.registry where valid_from >= ?", [as_of])
    con.execute("update identity.registry set valid_to = null where valid_to >= ?", [as_of])
    for table in ("journal", "refused_edges", "runs"):
        con.execute(f"delete from identity.{table} where as_of >= ?", [as_of])


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Insert a DataFrame into ``identity.<table>`` by column name."""
    if not len(frame):
        return
    con.register("__bz_frame", frame)
    cols = ", ".join(frame.columns)
    con.execute(f"insert into identity.{table} ({cols}) select {cols} from __bz_frame")
    con.unregister("__bz_frame")


def issued_ids(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("""select customer_id, cast(min(valid_from) as timestamp) as first_issued
                          from identity.registry group by customer_id""").df()


def write_registry(con: duckdb.DuckDBPyConnection, now: pd.DataFrame, as_of: date) -> None:
    """Close rows whose record moved or vanished, open rows for new or moved records."""
    con.register("__bz_now", now[["record", "customer_id"]])
    con.execute("""
        update identity.registry r set valid_to = ?
        where r.valid_to is null and not exists (
            select 1 from __bz_now n where n.record = r.record and n.customer_id = r.customer_id)""", [as_of])
    con.execute("""
        insert into identity.registry
        select n.record, n.customer_id, ?, null from __bz_now n
        where not exists (select 1 from identity.registry r
                          where r.valid_to is null and r.record = n.record)""", [as_of])
    con.unregister("__bz_now")


def latest_model(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[date, MatchModel] | None:
    rows = con.execute("""select trained_on, settings from identity.match_models where trained_on <= ?
                          order by trained_on desc limit 1""", [as_of]).fetchall()
    if not rows:
        return None
    trained_on, settings = rows[0]
    tf = {}
    for col in con.execute("select distinct col from identity.match_tf where trained_on = ?",
                           [trained_on]).fetchall():
        frame = con.execute("select value, tf from identity.match_tf where trained_on = ? and col = ?",
                            [trained_on, col[0]]).df()
        tf[col[0]] = frame.rename(columns={"value": col[0], "tf": f"tf_{col[0]}"})
    return trained_on, MatchModel(settings=json.loads(settings), tf=tf)


def save_model(con: duckdb.DuckDBPyConnection, model: MatchModel, trained_on: date, n_records: int) -> None:
    con.execute("delete from identity.match_models where trained_on = ?", [trained_on])
    con.execute("delete from identity.match_tf where trained_on = ?", [trained_on])
    con.execute("insert into identity.match_models values (?, ?, ?)", [trained_on, n_records, model.to_json()])
    for col, frame in model.tf.items():
        rows = frame.rename(columns={col: "value", f"tf_{col}": "tf"})[["value", "tf"]]
        append(con, "match_tf", rows.assign(trained_on=trained_on, col=col))


def acknowledged(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    return bool(con.execute("select count(*) from identity.acks where as_of = ?", [as_of]).fetchall()[0][0])
