-- Every source record that can stand for a person, with the attributes the golden
-- record is built from. Anonymous web visitors appear only once they revealed a key
-- (logged in, or submitted a phone or email).
with crm as (
    select
        'crm_customers' as source, source_record_id, name, gender, birth_date,
        phone_e164 as phone, phone_issue, email, province, city, district, address,
        coalesce(updated_at, joined_at) as seen_at, joined_at as first_seen_at, 1 as source_rank
    from {{ ref('stg_crm__customers') }}
),
lists as (
    select
        'lists', source_record_id, name, gender, birth_date,
        phone_e164, phone_issue, email, province, city, district, address,
        cast(acquired_at as timestamp), cast(acquired_at as timestamp), 2
    from {{ ref('stg_lists__records') }}
),
events as (
    select
        'events', anonymous_id, null, null, null::date,
        any_value(phone_key), null, any_value(email_key), mode(province), mode(city), null, null,
        max(event_ts), min(event_ts), 3
    from {{ ref('stg_web__events') }}
    group by anonymous_id
    having count(phone_key) + count(email_key) + count(user_id) > 0
)
select * from crm
union all select * from lists
union all select * from events
