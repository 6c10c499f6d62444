-- Each order with its cost of goods from its lines (margin is unknown where a line lacks a cost).
-- Lines join their order on (source_system, order_id): order ids are unique only within a system.
with lines as (
    select source_system, order_id, count(*) as n_lines, sum(amount) as lines_amount, sum(cost) as cost,
           count(*) filter (where cost is null) as lines_without_cost
    from {{ ref('int_order_lines__enriched') }}
    where line_status = 'attached'
    group by source_system, order_id
)
select
    o.*,
    l.n_lines,
    {{ money('l.cost') }} as cost_of_goods,
    {{ money('case when l.n_lines > 0 and l.lines_without_cost = 0 then o.amount - l.cost end') }} as margin
from {{ ref('stg_sales__orders') }} o
left join lines l on l.source_system = o.source_system and l.order_id = o.order_id
