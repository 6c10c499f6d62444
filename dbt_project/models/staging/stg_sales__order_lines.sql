-- Order lines as delivered (every delivery of every line; int_order_lines__enriched ties each to its
-- order and keeps the latest delivery), with the order id and the line's source system trimmed.
select *, trim(order_id) as _order_id, trim(source_system) as _given_system
from {{ source('sales', 'order_lines') }}
