-- Campaign contacts tied to people: by customer_id when the contact file has it, else by phone or email.
select
    c.*,
    coalesce(c.customer_id, kp.customer_id, ke.customer_id) as resolved_customer_id,
    coalesce({% for ch, cost in var('contact_cost').items() %}case when c.channel = '{{ ch }}' then {{ cost }} end, {% endfor %}0) as contact_cost
from {{ ref('stg_campaigns__contacts') }} c
left join {{ ref('int_customer__key_owners') }} kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
left join {{ ref('int_customer__key_owners') }} ke on ke.key_type = 'email' and ke.key_value = c.email_key
