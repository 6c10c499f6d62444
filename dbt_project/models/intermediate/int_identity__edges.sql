-- Which keys may tie records together, and through which graph node.
-- A key used under one name (or none) links all its records. A key used under several
-- names is a family or shop key: it links only records that share the same name, and
-- records without a name do not link through it. Above identity_max_names_per_key
-- distinct names it links no one.
with k as (
    select k.*, r.name
    from {{ ref('int_identity__keys') }} k
    join {{ ref('int_identity__records') }} r using (source, source_record_id)
),
stats as (
    select key_type, key_value, count(*) as n_records, count(distinct name) as n_names
    from k group by key_type, key_value
)
select
    k.source,
    k.source_record_id,
    k.key_type,
    k.key_value,
    s.n_records,
    s.n_names,
    case
        when s.n_names <= 1 then k.key_type || ':' || k.key_value
        when s.n_names <= {{ var('identity_max_names_per_key') }} and k.name is not null
            then k.key_type || ':' || k.key_value || '#' || k.name
    end as node,
    case
        when s.n_names <= 1 then 'key'
        when s.n_names > {{ var('identity_max_names_per_key') }} then 'shared key: too many names'
        when k.name is null then 'shared key: record has no name'
        else 'shared key: same name only'
    end as rule
from k
join stats s using (key_type, key_value)
