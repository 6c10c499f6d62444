-- Each buyer's own rhythm: the usual gap between purchase days, how regular it is, the gap
-- before the latest purchase (measured against the rhythm before it), and whether purchases
-- come back in the same months year after year (seasonal).
with days as (
    select customer_id, order_date,
        datediff('day', lag(order_date) over w, order_date) as gap,
        row_number() over (partition by customer_id order by order_date desc) as back
    from {{ ref('int_customer__purchase_days') }}
    window w as (partition by customer_id order by order_date)
),
gaps as (
    select customer_id,
        count(*) as purchase_days,
        min(order_date) as first_purchase,
        max(order_date) as last_purchase,
        median(gap) as usual_gap_days,
        -- population standard deviation / mean, from exact integer sums (stddev_pop's float
        -- updates depend on the order parallel threads combine them in)
        sqrt(greatest(count(gap) * sum(gap * gap) - sum(gap) * sum(gap), 0)) / nullif(sum(gap), 0) as gap_cv,
        max(gap) filter (where back = 1) as last_gap_days,
        median(gap) filter (where back > 1) as usual_gap_before_last_days,
        count(gap) filter (where back > 1) as gaps_before_last
    from days group by customer_id
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
)
select
    g.*,
    p.population_gap_days,
    -- One purchase tells nothing about a rhythm: use everyone's usual gap until there are two.
    greatest({{ var('lifecycle_min_gap_days') }},
             case when g.purchase_days >= 2 then g.usual_gap_days else p.population_gap_days end) as rhythm_days,
    greatest({{ var('lifecycle_min_gap_days') }},
             case when g.gaps_before_last >= 1 then g.usual_gap_before_last_days else p.population_gap_days end)
        as rhythm_before_last_days,
    coalesce(s.recurring_months, 0) as recurring_months,
    coalesce(s.share_in_recurring_months, 0) as share_in_recurring_months,
    g.purchase_days >= {{ var('steady_min_purchase_days') }} and g.gap_cv <= {{ var('steady_max_gap_cv') }} as is_steady,
    g.purchase_days >= {{ var('seasonal_min_purchase_days') }} and year(g.last_purchase) > year(g.first_purchase)
        and coalesce(s.recurring_months, 0) between 1 and {{ var('seasonal_max_months') }}
        and coalesce(s.share_in_recurring_months, 0) >= {{ var('seasonal_min_share') }} as is_seasonal
from gaps g
cross join population p
left join season s using (customer_id)
