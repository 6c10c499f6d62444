-- Contract table: each source record and the person it belongs to, with the rule
-- (deterministic key, probabilistic match, override) and the record or key that tied it.
select
    c.source,
    c.source_record_id,
    c.customer_id,
    c.match_rule,
    c.match_probability,
    c.cluster_size,
    c.linked_via
from {{ ref('int_identity__clusters') }} c
