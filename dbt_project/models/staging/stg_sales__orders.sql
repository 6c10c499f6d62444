-- One row per order_id (a later delivery of the same order, e.g. a refund, wins).
with source as (
    select * from {{ source('sales', 'orders') }}
    where order_ts < {{ as_of_end() }}
),
latest as (
    select *, row_number() over (partition by order_id order by _delivery_id desc, _line desc) as _version
    from source
)
select
    trim(order_id)                                          as order_id,
    coalesce(trim(source_system), 'crm')                    as source_system,
    trim(source_customer_id)                                as source_customer_id,
    coalesce(trim(source_system), 'crm') || ':' || trim(source_customer_id) as source_record_id,
    order_ts,
    cast(order_ts as date)                                  as order_date,
    amount,
    coalesce(discount_amount, 0)                            as discount_amount,
    store_id,
    lower(coalesce(channel, 'unknown'))                     as channel,
    nullif(upper(trim(coupon_code)), '')                    as coupon_code,
    lower(coalesce(status, 'paid'))                         as status,
    lower(coalesce(status, 'paid')) in ('refunded', 'cancelled', 'canceled') as is_refunded
from latest
where _version = 1
