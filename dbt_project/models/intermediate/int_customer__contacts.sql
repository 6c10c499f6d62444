-- Campaign contacts tied to people: by customer_id when the contact file has it, else by phone or email.
with keys as (
    select k.key_type, k.key_value, any_value(m.customer_id) as customer_id, count(distinct m.customer_id) as n
    from {{ ref('int_identity__keys') }} k
    join {{ ref('customer_identity_map') }} m using (source, source_record_id)
    where k.key_type in ('phone', 'email')
    group by all
)
select
    c.*,
    coalesce(c.customer_id, kp.customer_id, ke.customer_id) as resolved_customer_id,
    coalesce({% for ch, cost in var('contact_cost').items() %}case when c.channel = '{{ ch }}' then {{ cost }} end, {% endfor %}0) as contact_cost
from {{ ref('stg_campaigns__contacts') }} c
left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key and kp.n = 1
left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key and ke.n = 1
