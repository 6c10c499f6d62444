-- The store review's sales KPIs per selling store and month, up to the run date's month. An order counts for the
-- store that sold it (orders.store_id), not for its customer's home store; orders without a store (web shop,
-- app) count under store_id 'none'. Paid orders only: refunded or cancelled orders are left out.
--   revenue, orders         amount and number of the store's orders in the month
--   buyers                  distinct customers among them (orders of unknown customers count in revenue only)
--   revenue_target          the store's target for the month (store_targets/); NULL when none was delivered
--   attainment              revenue / revenue_target; NULL (not 0) without a target (or with a target of 0)
--   members                 people whose home store it is (int_customer__home_store) and whose record had
--                           joined by the month's end (a record without joined_at counts as joined)
--   store_visitors          members who bought at the store that month (an order with its store_id)
--   store_visit_rate        store_visitors / members: the share of the store's members who came in and bought
-- Rows: every store with a sale or a target, for each month from its first sale or target to the run date's
-- month (a month without sales has revenue 0).
with orders as (
    select coalesce(store_id, 'none') as store_id, cast(date_trunc('month', order_date) as date) as month,
        customer_id, amount
    from {{ ref('int_orders__enriched') }}
    where not is_refunded
),
sales as (
    select store_id, month, sum(amount) as revenue, count(*) as orders, count(distinct customer_id) as buyers
    from orders group by all
),
targets as (
    select store_id, month, revenue_target from {{ ref('stg_sales__store_targets') }}
    where month <= {{ as_of_date() }}
),
spans as (
    select store_id, min(month) as first_month
    from (select store_id, month from sales union all select store_id, month from targets)
    group by all
),
grid as (
    select s.store_id,
        {{ unnest_date_series('s.first_month', "cast(date_trunc('month', " ~ as_of_date() ~ ") as date)",
                              'interval 1 month', 'month') }}
    from spans s
),
home as (select * from {{ ref('int_customer__home_store') }}),
members as (
    select g.store_id, g.month, count(h.customer_id) as members
    from grid g
    join home h on h.home_store_id = g.store_id
        and (h.joined_at is null or h.joined_at < g.month + interval 1 month)
    group by all
),
visitors as (
    select o.store_id, o.month, count(distinct o.customer_id) as store_visitors
    from orders o
    join home h on h.customer_id = o.customer_id and h.home_store_id = o.store_id
        and (h.joined_at is null or h.joined_at < o.month + interval 1 month)
    group by all
)
select
    g.store_id,
    g.month,
    {{ money('coalesce(s.revenue, 0)') }} as revenue,
    coalesce(s.orders, 0) as orders,
    coalesce(s.buyers, 0) as buyers,
    t.revenue_target,
    {{ round_double(divide_as_double('coalesce(s.revenue, 0)', 'nullif(t.revenue_target, 0)'), 4) }} as attainment,
    m.members,
    case when m.members > 0 then coalesce(v.store_visitors, 0) end as store_visitors,
    {{ round_double('coalesce(v.store_visitors, 0) / m.members', 4) }} as store_visit_rate
from grid g
left join sales s using (store_id, month)
left join targets t using (store_id, month)
left join members m using (store_id, month)
left join visitors v using (store_id, month)
