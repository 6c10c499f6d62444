-- One row per person with everything a campaign's audience condition or rank_by may use
-- (bullseye.activation.campaigns.AUDIENCE_COLUMNS lists them; a test keeps the two equal),
-- plus the contact fields each channel needs and a household key for one-mail-per-household.
{% set address_noise %}[\s,，。\.#-]{% endset %}
with d as (select * from {{ ref('int_customer__profile') }}),
wechat as (
    select m.customer_id, min(k.key_value) as wechat_unionid
    from {{ ref('int_identity__keys') }} k
    join {{ ref('int_identity__customer_map') }} m using (source, source_record_id)
    where k.key_type = 'wechat_unionid'
    group by 1
),
lists as (
    select customer_id, {{ sorted_distinct_list('list_id') }} as list_ids
    from {{ ref('int_contact__list_terms') }} group by 1
),
enquiries as (
    select m.customer_id, max(e.event_ts) as last_enquiry_at
    from {{ ref('stg_web__events') }} e
    join {{ ref('int_identity__customer_map') }} m on m.source = 'events' and m.source_record_id = e.anonymous_id
    where e.event_type = 'form_submit'
    group by 1
),
propensity as (
    select customer_id, response_propensity from {{ ref('int_contact__response_propensity') }} where channel = 'all'
),
prior as (
    select coalesce(max(prior_rate), 0) as prior_rate from {{ ref('int_contact__response_propensity') }}
    where channel = 'all'
),
-- the latest response to one of our contacts, so that a named person can follow each responder up
responses as (
    select customer_id, max(responded_at) as last_responded_at,
        {{ value_at_max('campaign_id', 'responded_at') }} as last_response_campaign,
        {{ value_at_max('channel', 'responded_at') }} as last_response_channel,
        {{ value_at_max('converted_order_id is not null', 'responded_at') }} as last_response_converted
    from {{ ref('int_campaign__contacts') }}
    where customer_id is not null and responded_at is not null
    group by 1
)
select
    d.customer_id, d.customer_status, d.is_customer, d.name, d.gender,
    cast({{ years_between('d.birth_date', as_of_date()) }}
         - case when {{ month_day_text('d.birth_date') }} > {{ month_day_text(as_of_date()) }} then 1 else 0 end
         as integer) as age,
    d.province, d.city, d.district,
    s.value_tier, s.mvc_subtype, s.grade, s.lifecycle_stage, s.stage_since,
    r.rfm_segment, r.r_score, r.f_score, r.m_score, cast(r.recency_days as integer) as recency_days,
    cast(r.frequency as integer) as frequency, cast(r.monetary as double) as monetary,
    v.p_alive, v.clv_52w, cast(s.profit_12m as double) as profit_12m,
    -- what the customer caused over the value window (margin less service, giveaways, returns), without our
    -- own contact costs: what to rank customers on (profit_12m falls with every contact we make)
    cast(s.customer_profit_12m as double) as customer_profit_12m, s.share_of_wallet,
    l.lookalike_score, l.lookalike_percentile,
    {{ distinct_concat('coalesce(i.bought_categories, ' ~ empty_text_list() ~ ')',
                       'coalesce(i.browsed_only_categories, ' ~ empty_text_list() ~ ')') }}
        as interest_categories,
    i.price_style, n.next_best_category,
    coalesce(li.list_ids, {{ empty_text_list() }}) as list_ids, coalesce(d.is_on_purchased_list, false) as is_on_purchased_list,
    e.last_enquiry_at,
    cast({{ days_between('cast(e.last_enquiry_at as date)', as_of_date()) }} as integer) as days_since_enquiry,
    s.home_store_id, s.salesperson_id,
    coalesce(p.response_propensity, (select prior_rate from prior)) as response_propensity,
    rs.last_responded_at, rs.last_response_campaign, rs.last_response_channel, rs.last_response_converted,
    cast({{ days_between('cast(rs.last_responded_at as date)', as_of_date()) }} as integer) as days_since_response,
    -- contact fields
    d.phone, d.email, w.wechat_unionid, d.address,
    case when d.address is not null then
        md5(coalesce(d.province, '') || '|' || coalesce(d.city, '') || '|'
            || lower({{ regexp_replace_all('d.address', address_noise, '') }}))
    end as household_key
from d
left join {{ ref('int_customer__segments') }} s using (customer_id)
left join {{ ref('int_customer__rfm') }} r using (customer_id)
left join {{ ref('int_customer__clv') }} v using (customer_id)
left join {{ ref('int_lookalike__prospects') }} l using (customer_id)
left join {{ ref('int_customer__interests') }} i using (customer_id)
left join {{ ref('int_customer__next_best_category') }} n using (customer_id)
left join lists li using (customer_id)
left join enquiries e using (customer_id)
left join propensity p using (customer_id)
left join wechat w using (customer_id)
left join responses rs using (customer_id)
