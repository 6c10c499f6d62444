-- Tonight's phone calls as the salesperson's call sheet needs them (bullseye.activation.call_sheets writes one
-- file per salesperson, one per store for its unassigned customers): every included, non-holdout phone row of
-- tonight's lists, with who to call, why (reason, trigger, wave; for a service step what to do), what they bought
-- and when (last purchase; for a purchase or service trigger the order, its date and products), their tier, grade
-- and stage, the next best category, and the last contact reported back with its outcome. One row per list row; the campaign's name,
-- wave message and offer come from the campaign definitions (Python).
with calls as (
    select * from {{ ref('int_activation__list_history') }}
    where run_date = {{ as_of_date() }} and channel = 'phone' and not is_holdout
),
orders as (
    select customer_id, source_system, order_id, order_key, order_date, amount, store_id
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null and not is_refunded and order_date <= {{ as_of_date() }}
),
lines as (
    select source_system, order_id, category, sku
    from {{ ref('int_order_lines__enriched') }}
    where line_status = 'attached'
),
-- each caller's last purchase, with what was in it
last_order as (
    {% call select_first_per(from='orders', alias='o', partition_by='o.customer_id',
        order_by='o.order_date desc, o.order_key desc', where='o.customer_id in (select customer_id from calls)') -%}
    o.customer_id, o.order_key, o.order_date, o.amount, o.store_id
    {%- endcall %}
),
last_order_lines as (
    select lo.customer_id, {{ sorted_distinct_string_agg('l.category', '|') }} as categories,
        {{ sorted_distinct_string_agg('l.sku', '|') }} as skus
    from last_order lo
    join orders o using (customer_id, order_key)
    join lines l on l.source_system = o.source_system and l.order_id = o.order_id
    group by 1
),
-- the order a purchase anniversary or service step is about: its date and the products of that category
trigger_order as (
    select t.customer_id, t.occurrence_key, o.order_date,
        {{ sorted_distinct_string_agg('l.sku', '|') }} as skus
    from {{ ref('int_activation__triggers') }} t
    join orders o on o.customer_id = t.customer_id and o.source_system = t.order_source_system
        and o.order_id = t.order_id
    left join lines l on l.source_system = o.source_system and l.order_id = o.order_id and l.category = t.category
    where t.order_id is not null
    group by 1, 2, 3
),
-- the last contact reported back (contacts/), and what came of it
last_contact as (
    {% call select_first_per(from=ref('int_campaign__contacts'), partition_by='customer_id',
        order_by='sent_at desc, contact_id desc',
        where='customer_id in (select customer_id from calls) and sent_at < ' ~ as_of_end()) -%}
    customer_id, sent_at, campaign_id, channel,
        case when opt_out then 'opt_out'
             when complaint then 'complaint'
             when converted_order_id is not null then 'purchased'
             when responded_at is not null then 'responded'
             when delivered then 'reached'
             else 'not_reached' end as outcome
    {%- endcall %}
)
select
    c.run_date, c.send_date, c.campaign_id, c.customer_id, c.occurrence_key, c.wave, c.wave_name,
    c.reason, c.detail, c.purpose, c.legal_basis, c.rank_score, c.send_after, c.send_before,
    a.home_store_id as store_id, a.salesperson_id,
    a.name, a.phone,
    t.trigger_type, t.event_date as trigger_date, t.days_until as trigger_days_until,
    t.category as trigger_category, t.years as trigger_years, t.step as trigger_step, sp.action as trigger_action,
    t.order_id as trigger_order_id, tro.order_date as trigger_purchase_date, tro.skus as trigger_products,
    lo.order_date as last_purchase_date, cast(lo.amount as double) as last_purchase_amount,
    lol.categories as last_purchase_categories, lol.skus as last_purchase_products,
    lo.store_id as last_purchase_store_id,
    a.value_tier, a.mvc_subtype, a.grade, a.lifecycle_stage, a.rfm_segment, a.next_best_category,
    lc.sent_at as last_contact_at, lc.campaign_id as last_contact_campaign, lc.channel as last_contact_channel,
    lc.outcome as last_contact_outcome
from calls c
join {{ ref('int_activation__audience') }} a using (customer_id)
left join {{ ref('int_activation__triggers') }} t on t.customer_id = c.customer_id
    and t.occurrence_key = c.occurrence_key
left join {{ ref('service_plans') }} sp on sp.category = t.category and sp.step = t.step
left join trigger_order tro on tro.customer_id = c.customer_id and tro.occurrence_key = c.occurrence_key
left join last_order lo on lo.customer_id = c.customer_id
left join last_order_lines lol on lol.customer_id = c.customer_id
left join last_contact lc on lc.customer_id = c.customer_id
