-- Per person and channel: may we contact them? Consent events and campaign feedback
-- are tied to people through their phone or email; the latest event per channel wins,
-- and do-not-contact, opt-outs and complaints suppress every channel.
with keys as (
    select k.key_type, k.key_value, m.customer_id
    from {{ ref('int_identity__keys') }} k
    join {{ ref('customer_identity_map') }} m using (source, source_record_id)
    where k.key_type in ('phone', 'email')
),
consent as (
    select coalesce(c.customer_id, kp.customer_id, ke.customer_id) as customer_id,
           c.channel, c.status, c.ts, c.reason
    from {{ ref('stg_consent__events') }} c
    left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
    left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key
),
feedback as (
    select coalesce(c.customer_id, kp.customer_id, ke.customer_id) as customer_id,
           'all' as channel, 'do_not_contact' as status, coalesce(c.responded_at, c.sent_at) as ts,
           case when c.complaint then 'complaint' else 'opt_out' end || ' on ' || c.campaign_id as reason
    from {{ ref('stg_campaigns__contacts') }} c
    left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
    left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key
    where c.opt_out or c.complaint
),
events as (
    select distinct * from (select * from consent union all select * from feedback) where customer_id is not null
),
latest as (
    select * from events
    qualify row_number() over (partition by customer_id, channel order by ts desc, status desc) = 1
),
dnc as (
    select customer_id, max(ts) as dnc_at, first(reason order by ts desc) as dnc_reason
    from events where status = 'do_not_contact' group by customer_id
)
select
    l.customer_id,
    l.channel,
    l.status as consent_status,
    l.ts as consent_at,
    d.customer_id is not null as do_not_contact,
    d.dnc_reason,
    {{ as_of_date() }} as as_of_date
from latest l
left join dnc d using (customer_id)
