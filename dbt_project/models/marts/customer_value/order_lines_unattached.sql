-- Order lines that belong to no order tonight, so that none is lost without a trace (they
-- count in no margin, basket or interest). One row per line, with why:
--   ambiguous_order_id  the line names no source_system and several systems use its order_id:
--                       it is not attached to a guessed order. Deliver the lines with a
--                       source_system column to place them.
--   no_order            no order with this order_id (in the line's source_system, if it names
--                       one) was ever delivered.
-- Lines whose order lies after the run date are not listed (expected in a backfill).
-- _delivery_id and _line find the delivery file (meta.load_ledger) and its row.
select
    line_status as reason,
    order_id,
    delivered_source_system,
    line_no,
    sku,
    category,
    quantity,
    amount,
    _delivery_id as delivery_id,
    _line as line,
    {{ as_of_date() }} as as_of_date
from {{ ref('int_order_lines__enriched') }}
where line_status in ('ambiguous_order_id', 'no_order')
