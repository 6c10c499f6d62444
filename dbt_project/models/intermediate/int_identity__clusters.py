"""One person per cluster, with stable customer_ids (bullseye.identity.resolver).

This model only wires dbt refs and settings; matching, clustering, id stability and
the journal live in the tested bullseye.identity package. It also updates the
``identity`` schema (registry, journal, match model, drift), which dbt never drops.
"""

from datetime import date


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.identity.resolver import IdentityConfig, resolve

    dbt.ref("int_identity__records").to_view("__bz_identity_records", replace=True)
    dbt.ref("int_identity__edges").to_view("__bz_identity_edges", replace=True)
    overrides = dbt.ref("identity_overrides").df()
    config = IdentityConfig(
        match_threshold=float(dbt.config.get("match_threshold")),
        mode=str(dbt.config.get("identity_mode")),
        max_changed_share=float(dbt.config.get("max_changed_share")),
    )
    as_of = date.fromisoformat(str(dbt.config.get("as_of")))
    con = getattr(session, "_cursor", session)  # dbt-duckdb wraps the DuckDB cursor; Splink wants the real one
    result = resolve(con, "__bz_identity_records", "__bz_identity_edges", as_of, config, overrides)
    return result.records
