"""A later night on the same home reuses dbt's partial parse, and still builds with its own run date.

dbt keeps its vars and the profile's connection keys (the warehouse path) in its partial-parse state: with the
run date as a var and the night's working copy as the path, every night parsed the whole project again.
`bullseye run` now passes the date in $BULLSEYE_RUN_DATE, read only while dbt executes, and opens the warehouse
through the home's link (bullseye.transform). This test runs two nights on one home, far enough apart that
every date-dependent result differs, and checks both halves: the second night's dbt did not parse again, and
what it built (SQL models and Python models) carries the second night's date, not the first's.
"""

from __future__ import annotations

from datetime import date

import pytest

from bullseye.cli import main
from tests.conftest import MINIMAL_CRM, MINIMAL_ORDERS, db_rows, write

pytestmark = pytest.mark.slow
FIRST, SECOND = "2026-06-01", "2027-01-15"


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_nights")
    land, home = root / "land", root / "home"
    write(land / "crm_customers" / "a.csv", MINIMAL_CRM)
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    log = home / "logs" / "dbt.log"
    assert main(["run", "--landing", str(land), "--as-of", FIRST, "--home", str(home)]) == 0
    first_log = log.read_text(encoding="utf-8", errors="replace")
    assert main(["run", "--landing", str(land), "--as-of", SECOND, "--home", str(home)]) == 0
    second_log = log.read_text(encoding="utf-8", errors="replace")[len(first_log):]
    return home, first_log, second_log


def test_the_second_night_reuses_the_parse(two_nights):
    _, first_log, second_log = two_nights
    assert "Starting full parse" in first_log  # a new home parses once
    assert "Unable to do partial parsing" not in second_log, [
        line for line in second_log.splitlines() if "partial pars" in line.lower()]
    assert "Starting full parse" not in second_log
    assert "Partial parsing enabled" in second_log


def test_the_second_night_builds_with_its_own_date(two_nights):
    home, _, _ = two_nights
    wh, second = home / "warehouse" / "bullseye.duckdb", date.fromisoformat(SECOND)
    # SQL models (macros/as_of.sql)
    assert db_rows(wh, "SELECT DISTINCT as_of_date FROM marts.customer_rfm") == [(second,)]
    # Python models (bullseye.config.run_date): the customers' age T (weeks from their first purchase to the
    # run date) in the CLV summary, and the calendar's years (from the year before the run date's)
    ages = db_rows(wh, "SELECT first_purchase::DATE, T FROM intermediate.int_customer__clv_summary")
    assert len(ages) == 2
    assert all(abs(t * 7 - (second - first).days) < 1e-6 for first, t in ages), ages
    assert db_rows(wh, "SELECT min(year), max(year) FROM intermediate.int_calendar__festivals") == [(2026, 2027)]
    # the identity step resolved tonight, and the night was committed as a night (not a backfill)
    assert db_rows(wh, "SELECT DISTINCT as_of FROM identity.clusters") == [(second,)]
    assert db_rows(wh, "SELECT as_of::VARCHAR, kind FROM meta.nights ORDER BY 1") == [(FIRST, "night"),
                                                                                    (SECOND, "night")]
