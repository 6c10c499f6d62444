-- Order lines as delivered (every delivery of every line; int_order_lines__enriched ties each to its
-- order and keeps the latest delivery), with the order id and the line's source system trimmed.
-- Incremental (macros/incremental.sql): a night appends the lines of the deliveries loaded since the last one.
{{ config(materialized=incremental_on_duckdb(), incremental_strategy='append',
          post_hook="{{ record_watermark(source('sales', 'order_lines')) }}") }}
select *, trim(order_id) as _order_id, trim(source_system) as _given_system
from {{ source('sales', 'order_lines') }}
{{ incremental_deliveries() }}
