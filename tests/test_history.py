"""The declared history between nights (bullseye.history): written by an explicit step, never by dbt."""

from __future__ import annotations

from datetime import date

from bullseye import history
from tests.conftest import q

D1, D2 = date(2026, 11, 24), date(2026, 11, 25)


def _tonight(con, decisions: list[tuple], stages: list[tuple]) -> dict[str, str]:
    """Stand-ins for the two dbt models the step records from (same columns as the history tables)."""
    for table, rows in (("decisions", decisions), ("stages", stages)):
        cols = history.TABLES["contact_decisions" if table == "decisions" else "lifecycle_stages"]
        con.execute(f"CREATE OR REPLACE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols.items())})")
        for row in rows:
            con.execute(f"INSERT INTO {table} ({', '.join(list(cols)[:len(row)])}) VALUES "
                        f"({', '.join('?' * len(row))})", list(row))
    return {"int_activation__decision_history": "decisions", "int_customer__lifecycle": "stages"}


def test_record_replaces_exactly_its_night(con):
    rels = _tonight(con, [(D1, D2, "spring", "c1"), (D2, D2, "spring", "c2")], [("c1", D1, "active")])
    assert history.record(con, D1, rels) == {"contact_decisions": 1, "lifecycle_stages": 1}
    rels = _tonight(con, [(D2, D2, "spring", "c2"), (D2, D2, "spring", "c3")], [("c1", D2, "dormant")])
    history.record(con, D2, rels)
    # night 1 again (a re-run), with another outcome: only its own rows change
    rels = _tonight(con, [(D1, D2, "spring", "c9")], [("c9", D1, "new")])
    history.record(con, D1, rels)
    assert q(con, "SELECT run_date, customer_id FROM history.contact_decisions ORDER BY ALL") == [
        (D1, "c9"), (D2, "c2"), (D2, "c3")]
    assert q(con, "SELECT customer_id, as_of_date FROM history.lifecycle_stages ORDER BY ALL") == [
        ("c1", D2), ("c9", D1)]


def test_a_warehouse_from_before_keeps_its_history(con):
    """Before the history tables existed, the same rows lived in dbt's incremental models: they are
    copied once, so no earlier night's caps, waves or stages are lost; columns added later are NULL."""
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA intermediate")
    con.execute("CREATE TABLE marts.contact_decisions (run_date DATE, campaign_id VARCHAR, customer_id VARCHAR, "
                "decision VARCHAR, channel VARCHAR)")
    con.execute("INSERT INTO marts.contact_decisions VALUES (?, 'spring', 'c1', 'included', 'sms')", [D1])
    con.execute("CREATE TABLE intermediate.int_customer__lifecycle (customer_id VARCHAR, as_of_date DATE, "
                "lifecycle_stage VARCHAR)")
    con.execute("INSERT INTO intermediate.int_customer__lifecycle VALUES ('c1', ?, 'dormant')", [D1])
    copied = history.ensure(con)
    assert copied == ["marts.contact_decisions -> history.contact_decisions",
                      "intermediate.int_customer__lifecycle -> history.lifecycle_stages"]
    assert q(con, "SELECT run_date, customer_id, decision, channel, legal_basis FROM history.contact_decisions") == [
        (D1, "c1", "included", "sms", None)]
    assert q(con, "SELECT customer_id, lifecycle_stage FROM history.lifecycle_stages") == [("c1", "dormant")]
    assert history.ensure(con) == []  # once only
    assert q(con, "SELECT count(*) FROM history.contact_decisions") == [(1,)]
