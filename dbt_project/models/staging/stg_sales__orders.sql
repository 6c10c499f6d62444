-- One row per order up to the run date, keyed by (source_system, order_id): an order_id is
-- unique only within its source system (contract section 1), so two systems may use the same
-- number for different orders and both are kept. An order without a source_system belongs to
-- the default system 'crm', as a CRM record without one does (so it still finds its customer).
-- A later delivery of the same (source_system, order_id), e.g. a refund, replaces the earlier one.
-- Incremental (macros/incremental.sql): a night adds the orders that changed since the last one.
{{ config(materialized=incremental_on_duckdb(), unique_key='order_key', incremental_strategy='delete+insert',
          post_hook="{{ record_watermark(source('sales', 'orders')) }}") }}
with source as (
    select *,
        coalesce(trim(source_system), 'crm') as _source_system,
        trim(order_id) as _order_id
    from {{ source('sales', 'orders') }}
    where order_ts < {{ as_of_end() }}
    {{- incremental_keys("coalesce(trim(source_system), 'crm') || ':' || trim(order_id)",
                         source('sales', 'orders'), 'order_ts') }}
),
latest as (
    select *, row_number() over (
        partition by _source_system, _order_id order by _delivery_id desc, _line desc) as _version
    from source
)
select
    _order_id                                               as order_id,
    _source_system                                          as source_system,
    _source_system || ':' || _order_id                      as order_key,
    trim(source_customer_id)                                as source_customer_id,
    _source_system || ':' || trim(source_customer_id)       as source_record_id,
    order_ts,
    cast(order_ts as date)                                  as order_date,
    {{ money('amount') }}                                   as amount,
    {{ money('coalesce(discount_amount, 0)') }}             as discount_amount,
    store_id,
    lower(coalesce(channel, 'unknown'))                     as channel,
    nullif(upper(trim(coupon_code)), '')                    as coupon_code,
    lower(coalesce(status, 'paid'))                         as status,
    lower(coalesce(status, 'paid')) in ('refunded', 'cancelled', 'canceled') as is_refunded
from latest
where _version = 1
