-- One row per category and calendar month: how the month's sales compare with the category's average month,
-- and whether it is the category's quiet season (淡季), when service calls and trade-in offers find staff free
-- and customers not already in a store for a festival sale. Learned from order history, no table of months:
--   the window is the last quiet_season_history_months full calendar months before the run date's month,
--   from the first full month with any order on (a month before the first order is not a quiet month);
--   season_index = the month's average sales (paid, not refunded lines) / the category's average month;
--   the quiet_season_months months with the lowest index are its quiet season (ties: the earlier month), each
--   only when its index is at most quiet_season_max_index (an even seller has no quiet season).
-- Unknown (is_quiet NULL) when the window does not cover every calendar month or the category has fewer than
-- quiet_season_min_orders orders in it: too little history to call any month quiet.
{% set run = as_of_date() %}
with lines as (
    select l.category, o.order_key, o.order_date, l.amount
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where not o.is_refunded and l.category is not null and o.order_date < {{ run }}
),
bounds as (
    select cast(date_trunc('month', {{ run }}) - interval 1 month as date) as last_month,
        cast(greatest(date_trunc('month', {{ run }}) - interval {{ var('quiet_season_history_months') }} month,
                      date_trunc('month', min(order_date)) + interval 1 month) as date) as first_month
    from lines
),
months as (
    select {{ unnest_date_series('first_month', 'last_month', 'interval 1 month', 'month_start') }}
    from bounds where first_month <= last_month
),
categories as (
    select category, count(distinct order_key) as n_orders
    from lines, bounds where date_trunc('month', order_date) between first_month and last_month
    group by 1
),
monthly as (
    select c.category, m.month_start, coalesce(sum(l.amount), 0) as sales
    from categories c cross join months m
    left join lines l on l.category = c.category and date_trunc('month', l.order_date) = m.month_start
    group by 1, 2
),
calendar_months as (
    select category, cast(month(month_start) as integer) as month, {{ avg_as_double("sales") }} as avg_sales, count(*) as n_months
    from monthly group by 1, 2
),
all_months as (
    select c.category, c.n_orders, m.month
    from categories c cross join (select {{ unnest_range(1, 13, 'month') }}) m
),
indexed as (
    select a.category, a.month, a.n_orders, cm.n_months, cm.avg_sales,
        cm.avg_sales / nullif(avg(cm.avg_sales) over (partition by a.category), 0) as season_index,
        count(cm.month) over (partition by a.category) = 12
            and a.n_orders >= {{ var('quiet_season_min_orders') }} as is_known
    from all_months a
    left join calendar_months cm using (category, month)
)
select category, cast(month as integer) as month, cast(coalesce(n_months, 0) as integer) as n_months,
    cast(n_orders as integer) as n_orders, avg_sales, season_index,
    case when is_known then row_number() over (partition by category, is_known order by season_index nulls last, month)
                            <= {{ var('quiet_season_months') }}
                            and season_index <= {{ var('quiet_season_max_index') }} end as is_quiet
from indexed
