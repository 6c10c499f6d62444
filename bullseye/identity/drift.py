"""The nightly identity-drift report and the gate it puts before publishing.

A bad delivery (a CRM export where every phone is the store's number, a list with
shifted columns) shows first as a jump in merges: thousands of customers fused into
a few. Dashboards and tomorrow's lists would silently follow. So each night the
resolver records merges, splits, cluster sizes and per-source match shares
(``identity.runs``), and when the share of records whose customer_id changed
exceeds the configured limit the night is *blocked*: the marts are built and
checked but not published until someone has looked and acknowledged it.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pandas as pd

from bullseye.identity import state


def runs(con: duckdb.DuckDBPyConnection, last: int = 7) -> pd.DataFrame:
    """The latest nights' drift figures, newest first."""
    state.ensure(con)
    df = con.execute(f"""select r.*, a.acknowledged_by from identity.runs r
                         left join identity.acks a using (as_of)
                         order by as_of desc limit {int(last)}""").df()
    for col in ("cluster_sizes", "source_match_share"):
        df[col] = df[col].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    return df


def blocking_reason(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """Why publishing of ``as_of`` must wait, or None when it may go ahead."""
    state.ensure(con)
    rows = con.execute("select blocked, block_reason from identity.runs where as_of = ?", [as_of]).fetchall()
    if not rows or not rows[0][0] or state.acknowledged(con, as_of):
        return None
    return rows[0][1]


def acknowledge(con: duckdb.DuckDBPyConnection, as_of: date, by: str, note: str = "") -> None:
    """Record that a person reviewed the night's identity drift and lets it publish."""
    state.ensure(con)
    con.execute("delete from identity.acks where as_of = ?", [as_of])
    con.execute("insert into identity.acks values (?, ?, ?, ?)", [as_of, by, note, datetime.now()])
