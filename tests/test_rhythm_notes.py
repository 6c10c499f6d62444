"""The run summary says when buyers with too few purchases fall back to everyone's usual gap (issue 16).

bullseye.pipeline.rhythm_notes on hand-made intermediate tables (no dbt): the fallback is what the lifecycle
did less than asked (a durable good judged like the average purchase), so it must not pass unseen.
"""

from __future__ import annotations

import duckdb

from bullseye.pipeline import rhythm_notes


def _con(rhythm: list[tuple[str, str]], cycles: list[tuple[str, str, int]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate")
    con.execute("CREATE TABLE intermediate.int_customer__purchase_rhythm "
                "(customer_id VARCHAR, rhythm_source VARCHAR, population_gap_days DOUBLE)")
    con.executemany("INSERT INTO intermediate.int_customer__purchase_rhythm VALUES (?, ?, 23)", rhythm)
    con.execute("CREATE TABLE intermediate.int_category__repurchase_cycles "
                "(category VARCHAR, cycle_source VARCHAR, buyers BIGINT)")
    con.executemany("INSERT INTO intermediate.int_category__repurchase_cycles VALUES (?, ?, ?)", cycles)
    return con


def test_fallback_to_everyones_gap_is_said_with_the_categories_that_caused_it():
    """Two buyers on everyone's gap: 宠物 and 家电 have no cycle (净水器 has none either but nobody bought it,
    so it is no cause); the most bought category comes first."""
    con = _con([("a", "own"), ("b", "category_seed"), ("c", "population"), ("d", "population")],
               [("大家电", "category_seed", 9), ("宠物", "none", 1), ("家电", "none", 4), ("净水器", "none", 0)])
    [note] = rhythm_notes(con)
    assert note.startswith("lifecycle: 2 buyers with too few purchases of their own are judged on everyone's "
                           "usual gap (23 days)")
    assert "(家电, 宠物: no row in seed category_cycles" in note and "净水器" not in note


def test_orders_without_a_category_are_named_when_no_category_lacks_a_cycle():
    con = _con([("c", "population")], [("大家电", "category_seed", 9)])
    [note] = rhythm_notes(con)
    assert note.endswith("not on a repurchase cycle: orders without a category")


def test_no_fallback_no_note():
    """Every buyer on their own rhythm or a category's cycle: nothing to say."""
    con = _con([("a", "own"), ("b", "category_learned")], [("净水器", "category_learned", 40)])
    assert rhythm_notes(con) == []
