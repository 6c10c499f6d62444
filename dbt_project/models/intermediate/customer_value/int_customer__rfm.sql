-- Contract table: each customer's RFM state at the run date.
-- Scores are quintiles (5 = best) computed with cume_dist, so tied customers share a score
-- and the result does not depend on row order. Segments come from seed rfm_segment_rules.
with base as (
    select
        customer_id,
        {{ days_between('max(order_date)', as_of_date()) }} as recency_days,
        count(distinct order_key) as frequency,
        {{ money('sum(amount)') }} as monetary,
        max(order_date) as last_order_date,
        min(order_date) as first_order_date
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null and not is_refunded
    group by customer_id
),
scored as (
    select *,
        cast(ceil(5 * cume_dist() over (order by recency_days desc)) as integer) as r_score,
        cast(ceil(5 * cume_dist() over (order by frequency)) as integer) as f_score,
        cast(ceil(5 * cume_dist() over (order by monetary)) as integer) as m_score
    from base
),
with_fm as (
    select *, cast(round((f_score + m_score) / 2.0 + 0.001) as integer) as fm_score from scored
)
select
    s.customer_id,
    s.recency_days,
    s.frequency,
    s.monetary,
    s.r_score,
    s.f_score,
    s.m_score,
    s.fm_score,
    cast(s.r_score as {{ text_type() }}) || cast(s.f_score as {{ text_type() }}) || cast(s.m_score as {{ text_type() }}) as rfm_cell,
    coalesce(
        (select rule.segment from {{ ref('rfm_segment_rules') }} rule
         where s.r_score between rule.r_min and rule.r_max and s.fm_score between rule.fm_min and rule.fm_max
         order by rule.priority limit 1),
        'unclassified') as rfm_segment,
    s.first_order_date,
    s.last_order_date,
    {{ as_of_date() }} as as_of_date
from with_fm s
