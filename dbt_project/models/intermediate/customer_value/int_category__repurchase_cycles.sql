-- Each category's repurchase cycle: the usual gap between one customer's purchases in the category, which is
-- how long a buyer who has too few purchases of their own may stay silent before it counts
-- (int_customer__purchase_rhythm). One row per category in the seed category_cycles or bought up to the run date.
--   category_seed     the seed has a row: documented replacement lives and consumption (its source column
--                     says where each figure comes from). It wins over the data: see learned below.
--   category_learned  no seed row: learned from the data, the median over customers who bought in the category
--                     on at least two days of each one's median gap between those days, when at least
--                     category_cycle_min_customers such customers exist (each customer counts once, so a few
--                     heavy buyers do not set the pace).
--   none              neither: the category's buyers fall back to the population's usual gap.
-- A learned cycle runs short of the real one for durable goods: it sees only customers who bought twice within
-- the data's years, so a ten-year replacement shows up only when it happened early. Hence the seed first.
with bought as (  -- the categories of each purchase day (refunded orders are not purchases)
    select distinct o.customer_id, o.order_date, l.category
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where o.customer_id is not null and not o.is_refunded and l.category is not null
),
gaps as (
    select category, customer_id,
        {{ days_between('lag(order_date) over (partition by customer_id, category order by order_date)', 'order_date') }}
            as gap
    from bought
),
per_customer as (  -- median per customer and category (macros/median.sql: median() spills without end here)
    {{ median_per_group('gaps', ['category', 'customer_id'], 'gap', 'usual_gap') }}
),
learned as (
    select category, count(*) as learned_from_customers, median(usual_gap) as learned_cycle_days
    from per_customer group by all
),
buyers as (
    select category, count(distinct customer_id) as buyers from bought group by all
),
seed as (  -- folded as order lines' categories are (NFKC, trimmed, simplified)
    select bz_fold_text(category) as category, cast(cycle_days as double) as cycle_days, basis, source
    from {{ ref('category_cycles') }}
),
categories as (
    select category from seed union select category from buyers
)
select
    c.category,
    case when s.cycle_days is not null then s.cycle_days
         when l.learned_from_customers >= {{ var('category_cycle_min_customers') }} then l.learned_cycle_days
    end as cycle_days,
    case when s.cycle_days is not null then 'category_seed'
         when l.learned_from_customers >= {{ var('category_cycle_min_customers') }} then 'category_learned'
         else 'none'
    end as cycle_source,
    s.cycle_days as seed_cycle_days,
    cast(l.learned_cycle_days as double) as learned_cycle_days,
    coalesce(l.learned_from_customers, 0) as learned_from_customers,
    coalesce(b.buyers, 0) as buyers,
    s.basis,
    s.source
from categories c
left join seed s using (category)
left join learned l using (category)
left join buyers b using (category)
