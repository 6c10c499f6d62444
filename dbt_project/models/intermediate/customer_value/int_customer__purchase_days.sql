-- One row per customer and day with a paid purchase: the unit of the BG/NBD model
-- (several orders on one day are one purchase, as in Fader, Hardie & Lee 2005).
select
    customer_id,
    order_date,
    count(*) as n_orders,
    sum(amount) as amount,
    sum(margin) as margin,
    sum(amount) filter (where margin is not null) as amount_with_margin
from {{ ref('int_orders__enriched') }}
where customer_id is not null and not is_refunded
group by customer_id, order_date
