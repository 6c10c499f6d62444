with latest as (
    select *, row_number() over (
        partition by order_id, coalesce(line_no, _line) order by _delivery_id desc, _line desc) as _version
    from {{ source('sales', 'order_lines') }}
)
select
    trim(order_id)                                          as order_id,
    coalesce(line_no, row_number() over (partition by order_id order by _delivery_id, _line)) as line_no,
    trim(sku)                                               as sku,
    bz_fold_text(category)                                  as category,
    coalesce(quantity, 1)                                   as quantity,
    unit_price,
    coalesce(amount, coalesce(quantity, 1) * unit_price)    as amount,
    unit_cost,
    case when unit_cost is not null then coalesce(quantity, 1) * unit_cost end as cost
from latest
where _version = 1
