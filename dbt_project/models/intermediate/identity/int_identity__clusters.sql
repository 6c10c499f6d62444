-- Tonight's clusters: one row per record with its stable customer_id. Identity resolution is an explicit
-- pipeline step (bullseye.identity.step), not a model: it reads int_identity__records and
-- int_identity__edges once dbt has built them, updates the identity schema (registry, journal, match model,
-- runs) and writes identity.clusters, which this model reads. A test on that source fails the build when the
-- clusters were resolved for another night (dbt run by hand without the identity step).
-- Every column is cast to its type: the identity step writes the table from a data frame, and a column that
-- is NULL on every row (linked_via on a night of singletons) would otherwise have no type, breaking the
-- contract of marts.customer_identity_map.
select
    cast(source as {{ text_type() }}) as source,
    cast(source_record_id as {{ text_type() }}) as source_record_id,
    cast(customer_id as {{ text_type() }}) as customer_id,
    cast(match_rule as {{ text_type() }}) as match_rule,
    cast(match_probability as double) as match_probability,
    cast(linked_via as {{ text_type() }}) as linked_via,
    cast(cluster_size as bigint) as cluster_size
from {{ source('identity', 'clusters') }}
