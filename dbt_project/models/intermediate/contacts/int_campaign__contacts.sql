-- Contacts reported back from campaigns (contacts/ files), tied to people: by our
-- customer_id when the file carries one we know (an id since merged away is read through
-- int_identity__id_lineage to the person it belongs to tonight), else through a phone or email that
-- belongs to one person. Contacts that match no one keep a NULL customer_id (they are
-- still counted, as unmatched, in campaign_results, and against their number's caps). Each
-- contact's cost comes from the contact_cost var per channel.
-- address_key is the number or email the contact went to (E.164 / lower-case), when the file names it.
-- A gateway reply that is a refusal (reply column: T, TD, N, 退订 ... as the policy's
-- sms_opt_out_replies) is an opt-out: opt_out is true, and the number is bound for everyone who carries it.
{% set contact_cost_cases %}{% for ch, cost in var('contact_cost').items() %}case when c.channel = '{{ ch }}' then {{ cost }} end, {% endfor %}{% endset %}
with keys as (select * from {{ ref('int_customer__key_owners') }}),
people as (select customer_id, current_customer_id from {{ ref('int_identity__id_lineage') }}),
settings as (select sms_opt_out_replies from {{ ref('int_contact__policy_settings') }})
select
    c.contact_id, c.campaign_id, c.channel, c.sent_at, cast(c.sent_at as date) as sent_date,
    coalesce(p.current_customer_id, kp.customer_id, ke.customer_id) as customer_id,
    c.delivered, c.opened, c.clicked, c.responded_at, c.coupon_code, c.converted_order_id,
    c.opt_out or coalesce({{ list_has("(select sms_opt_out_replies from settings)", "upper(c.reply)") }}, false)
        as opt_out,
    c.complaint,
    c.reply,
    c.phone_key, c.email_key,
    case when c.channel in ('sms', 'phone') then c.phone_key when c.channel = 'email' then c.email_key end
        as address_key,
    {{ money("coalesce(" ~ contact_cost_cases ~ "0)") }} as contact_cost
from {{ ref('stg_campaigns__contacts') }} c
left join people p on p.customer_id = c.customer_id
left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key
