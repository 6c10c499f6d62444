"""Connected components over record-key edges: one cluster per person.

The work is in bullseye.identity (tested there); this model only wires dbt refs.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.identity import cluster_records

    records = dbt.ref("int_identity__records").df()[["source", "source_record_id"]]
    edges = dbt.ref("int_identity__edges").df()
    return cluster_records(records, edges)
