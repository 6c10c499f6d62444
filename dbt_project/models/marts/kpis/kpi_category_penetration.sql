-- Category penetration per home store and month: of the store's customers who bought that
-- month, the share who bought in each category.
with lines as (
    select o.customer_id, date_trunc('month', o.order_date) as month, l.category
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where o.customer_id is not null and not o.is_refunded
),
stores as (
    select l.*, coalesce(h.home_store_id, 'none') as home_store_id
    from lines l left join {{ ref('int_customer__home_store') }} h using (customer_id)
),
buyers as (
    select home_store_id, month, count(distinct customer_id) as buyers from stores group by all
)
select
    cast(s.month as date) as month,
    s.home_store_id,
    coalesce(s.category, 'unknown') as category,
    count(distinct s.customer_id) as category_buyers,
    any_value(b.buyers) as buyers,
    count(distinct s.customer_id) / any_value(b.buyers) as penetration
from stores s join buyers b using (home_store_id, month)
group by all
