-- Every event that opens or closes a channel for a person, tied to people: consent files
-- (by customer_id, read through merges to tonight's person, or through a phone or email that belongs to one person) and campaign
-- feedback. An opt-out or a complaint from a contact suppresses the person on every channel
-- from the moment it was reported: it becomes a do_not_contact event on channel 'all'.
with keys as (select * from {{ ref('int_customer__key_owners') }}),
people as (select customer_id, current_customer_id from {{ ref('int_identity__id_lineage') }}),
consent as (
    select coalesce(p.current_customer_id, kp.customer_id, ke.customer_id) as customer_id,
        c.channel, c.status, c.ts, coalesce(c.reason, 'consent file') as reason,
        'consents' as origin, c._delivery_id, c._line
    from {{ ref('stg_consent__events') }} c
    left join people p on p.customer_id = c.customer_id
    left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
    left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key
    where c.status in ('granted', 'withdrawn', 'do_not_contact')
),
feedback as (
    select customer_id, 'all' as channel, 'do_not_contact' as status,
        coalesce(responded_at, sent_at) as ts,
        case when complaint then 'complaint' else 'opt_out' end || ' on ' || campaign_id as reason,
        'contacts' as origin, null::varchar as _delivery_id, null::bigint as _line
    from {{ ref('int_campaign__contacts') }}
    where opt_out or complaint
)
select * from consent where customer_id is not null
union all
select * from feedback where customer_id is not null
