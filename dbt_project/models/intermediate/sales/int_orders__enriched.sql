-- Contract table: one row per order up to the run date, tied to its person.
-- customer_id is NULL for an order whose customer record was never delivered (an orphan).
-- An order is identified by (source_system, order_id); order_key is the two as one value.
select
    o.order_id,
    m.customer_id,
    o.source_system,
    o.order_key,
    o.source_customer_id,
    o.order_ts,
    o.order_date,
    o.amount,
    o.discount_amount,
    o.cost_of_goods,
    o.margin,
    o.store_id,
    o.channel,
    o.coupon_code,
    o.status,
    o.is_refunded,
    o.n_lines
from {{ ref('int_orders__margin') }} o
left join {{ ref('int_identity__customer_map') }} m
    on m.source = 'crm_customers' and m.source_record_id = o.source_record_id
