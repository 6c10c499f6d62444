"""dbt unit tests (``unit_tests:`` in dbt_project/models/**/_unit_tests.yml) run, all of them, and pass.

They pin SQL rules that otherwise show only through whole nights: lifecycle hysteresis
(int_customer__lifecycle), golden-record survivorship (int_customer__golden_fields), RFM boxes
(int_customer__rfm) and the identity key rules (int_identity__edges). dbt runs a unit test on mock
rows, but dbt-duckdb reads the column types of each input from the warehouse, so the inputs must
exist: they are built by a demo night's load and build steps (the session's demo landing zone).
The unit tests set their own run date and settings (``overrides: vars``), so their answers do not
depend on that night.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bullseye.config import RunConfig
from tests.conftest import DEMO_NIGHT

pytestmark = pytest.mark.slow
AS_OF = DEMO_NIGHT
_BUILT: dict[Path, Path] = {}
# One unit test per rule issues 15 and 16 name (dbt_project/models/*/*/_unit_tests*.yml).
RULES = {"lifecycle_hysteresis_and_purchases", "golden_record_survivorship", "rfm_quintiles_and_segment_boxes",
         "identity_key_rules", "date_triggers_count_from_the_send_date",
         "category_cycles_seed_then_learned", "rhythm_from_what_was_bought",
         "durable_buyer_stays_consumables_buyer_goes",
         "incremental_margin_against_the_holdout", "store_kpis_count_at_the_selling_store",
         "calendar_triggers_count_from_the_send_date", "quiet_season_from_sales_history",
         "call_sheet_rows_carry_the_calls_context", "grade_changes_through_no_grade"}


def demo_warehouse(demo_night: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared demo night's committed warehouse (tests.conftest.demo_night): every relation dbt
    builds exists, with tonight's types. Copied once per worker (tests/test_dbt_structure.py reads its marts'
    columns; dbt writes its unit tests' fixtures into it)."""
    if demo_night not in _BUILT:
        copy = tmp_path_factory.mktemp("dbt_demo_night") / "bullseye.duckdb"
        shutil.copyfile(demo_night / "warehouse" / "bullseye.duckdb", copy)
        _BUILT[demo_night] = copy
    return _BUILT[demo_night]


@pytest.fixture(scope="module")
def unit_results(demo_landing, demo_night, tmp_path_factory):
    from bullseye.transform import run_dbt

    warehouse = demo_warehouse(demo_night, tmp_path_factory)
    cfg = RunConfig(landing=demo_landing, warehouse=warehouse, as_of=AS_OF,
                    home=tmp_path_factory.mktemp("dbt_unit_tests"))
    return run_dbt(cfg, "test", "--select", "test_type:unit")


def test_unit_tests_ran_and_passed(unit_results):
    units = [n for n in unit_results if n.resource_type == "unit_test"]
    assert units, "no dbt unit test ran"
    assert {n.name for n in units} >= RULES, f"missing: {RULES - {n.name for n in units}}"
    failed = [f"{n.name}: {n.status}: {n.message}" for n in units if n.status != "pass"]
    assert not failed, "\n".join(failed)
