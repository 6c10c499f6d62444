-- Every candidate for campaign wake_dormant_high_value with a reason code, included or not.
-- Audience: customers who used to buy a lot and often (fm_score >= 4) but have gone quiet
-- (RFM segments at_risk and cant_lose). Channel: SMS.
{% set campaign_id = 'wake_dormant_high_value' %}
with audience as (
    select r.customer_id, r.rfm_segment, r.monetary, d.phone
    from {{ ref('customer_rfm') }} r
    join {{ ref('dim_customer') }} d using (customer_id)
    where r.rfm_segment in ('at_risk', 'cant_lose') and r.fm_score >= 4
),
policy as (
    select customer_id,
        bool_or(do_not_contact) as do_not_contact,
        bool_or(channel = 'sms' and consent_status = 'withdrawn') as sms_withdrawn
    from {{ ref('customer_contact_policy') }}
    group by customer_id
)
select
    {{ as_of_date() }} as run_date,
    '{{ campaign_id }}' as campaign_id,
    a.customer_id,
    'sms' as channel,
    case
        when coalesce(p.do_not_contact, false) then 'excluded:do_not_contact'
        when coalesce(p.sms_withdrawn, false) then 'excluded:no_sms_consent'
        when a.phone is null then 'excluded:no_valid_phone'
        else 'included:dormant_high_value'
    end as reason,
    -- A stable 10% holdout: the same person is in or out on every night.
    (hash('{{ campaign_id }}' || a.customer_id) % 100) < 10 as is_holdout,
    a.rfm_segment,
    a.monetary
from audience a
left join policy p using (customer_id)
