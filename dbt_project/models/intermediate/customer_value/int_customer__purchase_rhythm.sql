-- Each buyer's rhythm: the usual gap between purchase days, how regular it is, the gap before the
-- latest purchase (measured against the rhythm before it), and whether purchases come back in the
-- same months year after year (seasonal).
-- rhythm_days, the gap silence is counted in (int_customer__lifecycle), and where it comes from (rhythm_source):
--   own               at least rhythm_min_own_purchase_days purchase days: the median of their own gaps.
--   category_seed,    fewer: one gap or none says little (a refrigerator and a kettle two weeks apart is not a
--   category_learned  14-day rhythm), so the repurchase cycle of what they bought stands in for it
--                     (int_category__repurchase_cycles): the LONGEST cycle among the categories of all their
--                     purchase days. A refrigerator buyer who also took a bag of rice is in the refrigerator's
--                     cycle, not the rice's, and nothing they bought says they should be back sooner;
--                     rhythm_category names the category.
--   population        none of their categories has a cycle (no seed row, too few repeat buyers to learn one, or
--                     orders without lines): everyone's usual gap, the median of buyers' own usual gaps.
-- rhythm_before_last_days (won_back: was the gap before the latest purchase a lost customer's silence?) is the
-- same rule applied to the purchase days before the latest one, as the rhythm stood when they came back: a
-- refrigerator buyer who returns after a year for a TV was never lost. A one-time buyer has no gap before the
-- latest purchase: theirs is rhythm_days.
{% set own = [var('rhythm_min_own_purchase_days') | int, 2] | max %}
{% set min_gap = var('lifecycle_min_gap_days') %}
with days as (
    select customer_id, order_date,
        {{ days_between('lag(order_date) over w', 'order_date') }} as gap,
        row_number() over (partition by customer_id order by order_date desc) as back
    from {{ ref('int_customer__purchase_days') }}
    window w as (partition by customer_id order by order_date)
),
gap_counts as (
    select customer_id,
        count(*) as purchase_days,
        min(order_date) as first_purchase,
        max(order_date) as last_purchase,
        -- population standard deviation / mean, from exact integer sums (stddev_pop's float
        -- updates depend on the order parallel threads combine them in)
        sqrt(greatest(count(gap) * sum(gap * gap) - sum(gap) * sum(gap), 0)) / nullif(sum(gap), 0) as gap_cv,
        max(gap) filter (where back = 1) as last_gap_days,
        count(gap) filter (where back > 1) as gaps_before_last
    from days group by customer_id
),
-- medians per customer (macros/median.sql: median() in a GROUP BY of every customer spills without end)
usual_gap as ({{ median_per_group('days', ['customer_id'], 'gap', 'usual_gap_days') }}),
usual_gap_before_last as (
    {{ median_per_group('days', ['customer_id'], 'gap', 'usual_gap_before_last_days', where='back > 1') }}
),
gaps as (
    select c.customer_id, c.purchase_days, c.first_purchase, c.last_purchase, u.usual_gap_days, c.gap_cv,
        c.last_gap_days, b.usual_gap_before_last_days, c.gaps_before_last
    from gap_counts c
    left join usual_gap u on u.customer_id = c.customer_id
    left join usual_gap_before_last b on b.customer_id = c.customer_id
),
months as (
    select customer_id, month(order_date) as m, count(distinct year(order_date)) as years, count(*) as n
    from {{ ref('int_customer__purchase_days') }}
    group by customer_id, month(order_date)
),
season as (
    select customer_id,
        count(*) filter (where years >= {{ var('seasonal_min_years') }}) as recurring_months,
        sum(n) filter (where years >= {{ var('seasonal_min_years') }}) / sum(n) as share_in_recurring_months
    from months group by customer_id
),
population as (
    select coalesce(median(usual_gap_days), {{ var('rhythm_default_gap_days') }}) as population_gap_days from gaps where purchase_days >= 2
),
bought as (  -- the categories of each purchase day
    select distinct o.customer_id, o.order_date, l.category
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where o.customer_id is not null and not o.is_refunded
),
cycles as (  -- ... each with its cycle, the population's when it has none
    select b.customer_id, b.order_date, b.category,
        coalesce(c.cycle_days, p.population_gap_days) as cycle_days,
        case when c.cycle_days is not null then c.cycle_source else 'population' end as cycle_source
    from bought b
    cross join population p
    left join {{ ref('int_category__repurchase_cycles') }} c on c.category = b.category
),
{%- set longest -%}
    c.cycle_days desc,
        case c.cycle_source when 'category_seed' then 1 when 'category_learned' then 2 else 3 end,
        c.category nulls last
{%- endset %}
longest as (  -- the longest cycle among all purchase days
    {% call select_first_per(from='cycles', alias='c', partition_by='c.customer_id', order_by=longest) -%}
    c.customer_id, c.cycle_days, c.cycle_source, c.category
    {%- endcall %}
),
longest_before_last as (  -- ... among the purchase days before the latest
    {% call select_first_per(from='(select c.* from cycles c join gaps g using (customer_id)
          where c.order_date < g.last_purchase)', alias='c', partition_by='c.customer_id', order_by=longest) -%}
    c.customer_id, c.cycle_days, c.cycle_source, c.category
    {%- endcall %}
),
rhythm as (
    select g.customer_id,
        case when g.purchase_days >= {{ own }} then 'own' else coalesce(lc.cycle_source, 'population') end
            as rhythm_source,
        case when g.purchase_days < {{ own }} and lc.cycle_source <> 'population' then lc.category end
            as rhythm_category,
        case when g.purchase_days >= {{ own }} then g.usual_gap_days
             else coalesce(lc.cycle_days, p.population_gap_days) end as rhythm_raw,
        case when g.purchase_days - 1 >= {{ own }} then 'own'
             when g.purchase_days = 1 then coalesce(lc.cycle_source, 'population')
             else coalesce(lb.cycle_source, 'population') end as rhythm_before_last_source,
        case when g.purchase_days - 1 >= {{ own }} then g.usual_gap_before_last_days
             when g.purchase_days = 1 then coalesce(lc.cycle_days, p.population_gap_days)
             else coalesce(lb.cycle_days, p.population_gap_days) end as rhythm_before_last_raw
    from gaps g
    cross join population p
    left join longest lc using (customer_id)
    left join longest_before_last lb using (customer_id)
)
select
    g.*,
    p.population_gap_days,
    greatest({{ min_gap }}, r.rhythm_raw) as rhythm_days,
    r.rhythm_source,
    r.rhythm_category,
    greatest({{ min_gap }}, r.rhythm_before_last_raw) as rhythm_before_last_days,
    r.rhythm_before_last_source,
    coalesce(s.recurring_months, 0) as recurring_months,
    coalesce(s.share_in_recurring_months, 0) as share_in_recurring_months,
    g.purchase_days >= {{ var('steady_min_purchase_days') }} and g.gap_cv <= {{ var('steady_max_gap_cv') }} as is_steady,
    g.purchase_days >= {{ var('seasonal_min_purchase_days') }} and year(g.last_purchase) > year(g.first_purchase)
        and coalesce(s.recurring_months, 0) between 1 and {{ var('seasonal_max_months') }}
        and coalesce(s.share_in_recurring_months, 0) >= {{ var('seasonal_min_share') }} as is_seasonal
from gaps g
cross join population p
join rhythm r using (customer_id)
left join season s using (customer_id)
