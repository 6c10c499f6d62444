-- Each person's chance of responding to a contact, per channel and over all channels
-- (channel = 'all'), learned from past contacts up to the run date. A response is a reply,
-- click-through to a coupon or an order credited to the contact. Few contacts prove little,
-- so the person's own rate is shrunk toward the channel's rate (beta-binomial with
-- propensity_prior_contacts pseudo-contacts): (responses + k * rate) / (contacts + k).
-- People never contacted take the channel's rate (prior_rate) where the lists rank them.
{% set k = var('propensity_prior_contacts') %}
with c as (
    select customer_id, channel,
        (responded_at is not null or converted_order_id is not null) as responded
    from {{ ref('int_campaign__contacts') }}
    where customer_id is not null and delivered
),
both_levels as (
    select customer_id, channel, responded from c
    union all
    select customer_id, 'all', responded from c
),
rates as (
    select channel, avg(cast(responded as int)) as prior_rate, count(*) as channel_contacts
    from both_levels group by channel
)
select b.customer_id, b.channel,
    count(*) as contacts,
    count(*) filter (where b.responded) as responses,
    any_value(r.prior_rate) as prior_rate,
    (count(*) filter (where b.responded) + {{ k }} * any_value(r.prior_rate)) / (count(*) + {{ k }})
        as response_propensity,
    {{ as_of_date() }} as as_of_date
from both_levels b join rates r using (channel)
group by b.customer_id, b.channel
