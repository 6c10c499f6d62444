-- Contract table: each source record and the person it belongs to.
select
    c.source,
    c.source_record_id,
    c.customer_id,
    c.match_rule,
    c.match_probability,
    c.cluster_size
from {{ ref('int_identity__clusters') }} c
