-- Every order ever delivered (source system and order id), whatever its date: tells an order line whose
-- order lies after the run date from one whose order never came (int_order_lines__enriched).
select distinct coalesce(trim(source_system), 'crm') as source_system, trim(order_id) as order_id
from {{ source('sales', 'orders') }}
