-- Per campaign and wave: what was sent and what came back, and what the campaign changed.
-- Sent, delivered, responded, converted, revenue and margin credited (fct_campaign_attribution),
-- cost (contacts at contact_cost per channel + coupon discounts on credited orders) and ROI
-- = (margin - cost) / cost: all margin credited to contacts, also what the people would have bought
-- anyway. What the campaign added is measured against its holdout (int_campaign__holdout_comparison):
-- margin per person in each arm, incremental margin and incremental ROI with 95% intervals, or NULL
-- with incremental_note saying why (no holdout, too small a holdout, window not closed ...).
-- Uplift compares everyone planned for contact with the campaign's holdout: the share who ordered
-- within attribution_window_days of the send date, for plans whose window has closed by the run date,
-- with a 95% confidence interval (normal approximation for a difference of two proportions). A sent
-- contact is matched to a plan as the ledger matches it (same campaign, person and channel, within the
-- policy's ledger_match_days of the send date); contacts that no plan of ours explains (another
-- tool's campaigns) are reported with wave NULL.
with plans as (  -- earlier plans' people as they are tonight (merges followed)
    select {{ star_replace('int_activation__list_history', 't',
                           [('customer_id', 'coalesce(l.current_customer_id, t.customer_id)')]) }}
    from {{ ref('int_activation__list_history') }} t
    left join {{ ref('int_identity__id_lineage') }} l on l.customer_id = t.customer_id
    where t.run_date <= {{ as_of_date() }}
),
policy as (select * from {{ ref('int_contact__policy_settings') }}),
contacts as (
    -- plan_send_date and plan_occurrence_key: the order of the plans, not used further
    {% call select_first_per(from="(select c.*, p.wave, p.wave_name, p.send_date as plan_send_date,
            p.occurrence_key as plan_occurrence_key
        from " ~ ref('int_campaign__contacts') ~ " c
        cross join policy
        left join plans p on p.campaign_id = c.campaign_id and p.customer_id = c.customer_id
            and p.channel = c.channel and not p.is_holdout
            and c.sent_date between " ~ sub_days('p.send_date', 'policy.ledger_match_days') ~ "
                                and " ~ add_days('p.send_date', 'policy.ledger_match_days') ~ ")",
        alias='cp', partition_by='contact_id',
        order_by='plan_send_date desc nulls last, wave nulls last, plan_occurrence_key nulls last') -%}
    *
    {%- endcall %}
),
credit as (
    select a.contact_id, count(*) as orders, sum(a.amount) as revenue, sum(coalesce(a.margin, 0)) as margin,
        sum(coalesce(o.discount_amount, 0)) filter (where a.method = 'coupon') as coupon_cost
    from {{ ref('int_campaign__attribution') }} a join {{ ref('int_orders__enriched') }} o using (order_key)
    group by 1
),
sent as (
    select c.campaign_id, c.wave, min(c.wave_name) as wave_name,
        count(*) as sent, count(*) filter (where c.delivered) as delivered,
        count(*) filter (where c.responded_at is not null) as responded,
        count(*) filter (where cr.orders > 0) as converted,
        count(*) filter (where c.customer_id is null) as unmatched_contacts,
        {{ money('coalesce(sum(cr.revenue), 0)') }} as revenue, {{ money('coalesce(sum(cr.margin), 0)') }} as margin,
        {{ money('sum(c.contact_cost) + coalesce(sum(cr.coupon_cost), 0)') }} as cost
    from contacts c left join credit cr using (contact_id)
    group by 1, 2
),
lift as (select * from {{ ref('int_campaign__holdout_comparison') }})
select
    coalesce(s.campaign_id, l.campaign_id) as campaign_id,
    coalesce(s.wave, l.wave) as wave,
    coalesce(s.wave_name, l.wave_name) as wave_name,
    coalesce(s.sent, 0) as sent, coalesce(s.delivered, 0) as delivered, coalesce(s.responded, 0) as responded,
    coalesce(s.converted, 0) as converted, coalesce(s.unmatched_contacts, 0) as unmatched_contacts,
    coalesce(s.revenue, 0) as revenue, coalesce(s.margin, 0) as margin, coalesce(s.cost, 0) as cost,
    case when s.cost > 0 then {{ round_double(divide_as_double('(s.margin - s.cost)', 's.cost'), 4) }} end as roi,
    l.treated, l.treated_order_rate, l.holdout, l.holdout_order_rate,
    l.treated_order_rate - l.holdout_order_rate as uplift,
    case when l.treated > 0 and l.holdout > 0 then
        l.treated_order_rate - l.holdout_order_rate
        - 1.96 * sqrt(l.treated_order_rate * (1 - l.treated_order_rate) / l.treated
                      + l.holdout_order_rate * (1 - l.holdout_order_rate) / l.holdout) end as uplift_ci_low,
    case when l.treated > 0 and l.holdout > 0 then
        l.treated_order_rate - l.holdout_order_rate
        + 1.96 * sqrt(l.treated_order_rate * (1 - l.treated_order_rate) / l.treated
                      + l.holdout_order_rate * (1 - l.holdout_order_rate) / l.holdout) end as uplift_ci_high,
    {{ as_of_date() }} as as_of_date,
    l.treated_margin_per_person, l.holdout_margin_per_person, l.treated_contact_cost,
    l.incremental_margin, l.incremental_margin_ci_low, l.incremental_margin_ci_high,
    l.incremental_roi, l.incremental_roi_ci_low, l.incremental_roi_ci_high,
    case when l.campaign_id is not null then l.incremental_note
         when s.wave is null then 'no holdout: contacts that no plan of ours explains (another tool''s campaign)'
         else 'no plan of this wave whose attribution window has closed by the run date'
    end as incremental_note
from sent s
full join lift l on l.campaign_id = s.campaign_id and l.wave is not distinct from s.wave
