"""The identity step of a night: between dbt's build of the identity inputs and the rest of the build.

Identity resolution keeps state between nights (registry, journal, match model, runs), so it is an
explicit pipeline step and not a dbt model: a model must write only its own relation. dbt builds
``int_identity__records`` and ``int_identity__edges`` (and the ``identity_overrides`` seed); this step
resolves them (bullseye.identity.resolver), updates the ``identity`` schema and writes tonight's
clusters to ``identity.clusters``, which dbt reads as a source (``int_identity__clusters``). The
relations are found through dbt's manifest, not by hand-written names.
"""

from __future__ import annotations

from datetime import date

import duckdb

from bullseye.config import IDENTITY_INPUTS
from bullseye.identity.resolver import IdentityConfig, NightResult, Scorer, resolve

# What dbt builds before the identity step (dbt selection syntax), and the models the step reads.
INPUTS_SELECTOR = IDENTITY_INPUTS
RECORDS_MODEL, EDGES_MODEL, OVERRIDES_SEED = "int_identity__records", "int_identity__edges", "identity_overrides"


def run_identity(con: duckdb.DuckDBPyConnection, as_of: date, config: IdentityConfig,
                 relations: dict[str, str], scorer: Scorer | None = None) -> NightResult:
    """Resolve tonight's identities and write ``identity.clusters`` (with the night it is for). ``scorer``:
    resolver.resolve's (the Spark build's identity step scores on Spark, bullseye.spark_steps)."""
    overrides = con.execute(f"select * from {relations[OVERRIDES_SEED]}").df()
    result = resolve(con, relations[RECORDS_MODEL], relations[EDGES_MODEL], as_of, config, overrides, scorer)
    clusters = result.records.assign(as_of=as_of)
    con.register("__bz_clusters", clusters)
    try:
        con.execute("create or replace table identity.clusters as "
                    "select source, source_record_id, customer_id, match_rule, match_probability, linked_via, "
                    "cast(cluster_size as bigint) as cluster_size, cast(as_of as date) as as_of from __bz_clusters")
    finally:
        con.unregister("__bz_clusters")
    return result


def ensure_clusters(con: duckdb.DuckDBPyConnection) -> None:
    """An empty ``identity.clusters`` so that dbt can parse and a first build by hand fails on its test,
    not on a missing table."""
    con.execute("create schema if not exists identity")
    con.execute("""create table if not exists identity.clusters (source varchar, source_record_id varchar,
        customer_id varchar, match_rule varchar, match_probability double, linked_via varchar,
        cluster_size bigint, as_of date)""")

