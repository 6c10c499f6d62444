-- The surviving value of each golden field per person, with the record it came from
-- and when that record was last seen. Rules per field come from the seed
-- survivorship_rules; every record's non-empty value is a candidate.
with r as (
    select r.*, m.customer_id,
        r.source || case when r.origin is not null then ':' || r.origin else '' end as value_source
    from {{ ref('int_identity__records') }} r
    join {{ ref('int_identity__clusters') }} m using (source, source_record_id)
),
candidates as (
    select customer_id, 'name' as field, name as value, value_source, seen_at, source_rank, source_record_id
    from r where name is not null
    union all select customer_id, 'gender', gender, value_source, seen_at, source_rank, source_record_id
    from r where gender is not null
    union all select customer_id, 'birth_date', cast(birth_date as {{ text_type() }}), value_source, seen_at, source_rank,
        source_record_id
    from r where birth_date is not null
    union all select customer_id, 'phone', phone, value_source, seen_at, source_rank, source_record_id
    from r where phone is not null and phone_issue is null
    union all select customer_id, 'email', email, value_source, seen_at, source_rank, source_record_id
    from r where email is not null and bz_email_key(email) is not null
    union all select customer_id, 'address', address, value_source, seen_at, source_rank, source_record_id
    from r where address is not null
),
counted as (
    select c.*, s.rule, count(*) over (partition by c.customer_id, c.field, c.value) as n_records_with_value
    from candidates c
    join {{ ref('survivorship_rules') }} s using (field)
),
ranked as (
    select *,
        row_number() over (
            partition by customer_id, field
            order by
                case when rule = 'most_frequent' then -n_records_with_value else 0 end,
                case when rule in ('most_trusted', 'most_frequent', 'non_empty') then source_rank else 0 end nulls last,
                seen_at desc nulls last,
                source_rank nulls last,
                value,
                value_source,
                source_record_id
        ) as pick
    from counted
)
select customer_id, field, value, value_source, seen_at as value_seen_at, rule, n_records_with_value,
    source_record_id
from ranked
where pick = 1
