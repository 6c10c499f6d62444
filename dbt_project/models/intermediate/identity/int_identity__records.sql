-- Every source record that can stand for a person, with the attributes the match
-- model compares and the golden record is built from. Anonymous web visitors appear
-- only once they revealed a key (logged in, or submitted a phone or email).
-- source_rank orders sources by trust for survivorship (the seed source_trust: store CRMs, then the web
-- shop, then purchased lists, then web events); a source_system the seed does not name takes its
-- source's '*' row.
with crm as (
    select
        'crm_customers' as source, source_record_id, source_system as origin, name,
        bz_name_pinyin(name) as name_pinyin, gender, birth_date,
        phone_e164 as phone, phone_issue, email, province, city, district, address, postcode,
        coalesce(updated_at, joined_at) as seen_at, joined_at as first_seen_at
    from {{ ref('stg_crm__customers') }}
),
lists as (
    select
        'lists', source_record_id, list_id, name, bz_name_pinyin(name), gender, birth_date,
        phone_e164, phone_issue, email, province, city, district, address, postcode,
        cast(acquired_at as timestamp), cast(acquired_at as timestamp)
    from {{ ref('int_lists__records') }}
),
events as (
    select
        'events', anonymous_id, 'web', null, null, null, cast(null as date),
        -- the value a visitor gave most often; a tie goes to the first by value (not to chance)
        {{ mode_lowest('phone_key') }}, null, {{ mode_lowest('email_key') }},
        {{ mode_lowest('province') }}, {{ mode_lowest('city') }}, null, null, null,
        max(event_ts), min(event_ts)
    from {{ ref('stg_web__events') }}
    group by anonymous_id
    having count(phone_key) + count(email_key) + count(user_id) > 0
),
records as (
    select * from crm
    union all select * from lists
    union all select * from events
)
select r.*, coalesce(exact.trust_rank, fallback.trust_rank) as source_rank
from records r
left join {{ ref('source_trust') }} exact on exact.source = r.source and exact.origin = r.origin
left join {{ ref('source_trust') }} fallback on fallback.source = r.source and fallback.origin = '*'
