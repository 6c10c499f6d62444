-- Tonight's clusters: one row per record with its stable customer_id. Identity resolution is an explicit
-- pipeline step (bullseye.identity.step), not a model: it reads int_identity__records and
-- int_identity__edges once dbt has built them, updates the identity schema (registry, journal, match model,
-- runs) and writes identity.clusters, which this model reads. A test on that source fails the build when the
-- clusters were resolved for another night (dbt run by hand without the identity step).
select source, source_record_id, customer_id, match_rule, match_probability, linked_via, cluster_size
from {{ source('identity', 'clusters') }}
