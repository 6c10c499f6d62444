-- Which keys may tie records together deterministically, and through which graph node.
--   * Account keys (ID card, WeChat unionid, member card, web login) belong to one
--     person whatever name is typed next to them: they always link.
--   * Contact keys (phone, email) used under one name (or none) link all their records.
--     Used under several names they are family or shop keys: they link only records
--     with the same name (the match model still weighs them for the rest). Above
--     identity_max_names_per_key names, or identity_max_records_per_key records, they
--     link no one and the match model ignores them too.
-- Junk values never get here: the bz_*_key normalizers turned them into NULL.
with k as (
    select k.*, r.name
    from {{ ref('int_identity__keys') }} k
    join {{ ref('int_identity__records') }} r using (source, source_record_id)
),
stats as (
    select key_type, key_value, count(*) as n_records, count(distinct name) as n_names
    from k group by key_type, key_value
),
ruled as (
    select
        k.*,
        s.n_records,
        s.n_names,
        k.key_type in ('phone', 'email') as name_checked,
        s.n_records > {{ var('identity_max_records_per_key') }} as too_many_records
    from k
    join stats s using (key_type, key_value)
)
select
    source,
    source_record_id,
    key_type,
    key_value,
    n_records,
    n_names,
    case
        when too_many_records then null
        when not name_checked or n_names <= 1 then key_type || ':' || key_value
        when n_names <= {{ var('identity_max_names_per_key') }} and name is not null
            then key_type || ':' || key_value || '#' || name
    end as node,
    case
        when too_many_records then 'blocked: too many records'
        when not name_checked then 'account key'
        when n_names <= 1 then 'key'
        when n_names > {{ var('identity_max_names_per_key') }} then 'shared key: too many names'
        when name is null then 'shared key: record has no name'
        else 'shared key: same name only'
    end as rule
from ruled
