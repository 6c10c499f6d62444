-- Order lines, each tied to its order by (source_system, order_id), as orders are keyed
-- (order ids are unique only within a source system, contract section 1).
--   * A line that names its source_system belongs to that system's order.
--   * A line without one (the contract's order_lines has no source_system) belongs to the one
--     order with its order_id up to the run date, as before order ids were keyed by system.
--     When several systems use that order_id the line cannot be placed: it is attached to no
--     order (source_system and order_key NULL) rather than to a guessed one, and is listed in
--     marts.order_lines_unattached.
-- line_status: attached; ambiguous_order_id (the case above); no_order (no order with this id,
-- in the line's system if it names one, was ever delivered); order_after_run_date (its order
-- lies after the run date: expected in a backfill, not an issue).
-- A line delivered again for the same order and line_no replaces the earlier one.
with orders as (
    select source_system, order_id from {{ ref('stg_sales__orders') }}
),
systems as (  -- how many systems use each order_id up to the run date
    select order_id, count(*) as n_systems, min(source_system) as only_system
    from orders group by order_id
),
delivered as (  -- every order ever delivered, whatever its date
    select source_system, order_id from {{ ref('stg_sales__delivered_orders') }}
),
delivered_ids as (select distinct order_id from delivered),
lines as (
    select * from {{ ref('stg_sales__order_lines') }}
),
resolved as (
    select l.*,
        case when l._given_system is not null then l._given_system
             when s.n_systems = 1 then s.only_system end as _source_system,
        case
            when l._given_system is not null and o.order_id is not null then 'attached'
            when l._given_system is null and s.n_systems = 1 then 'attached'
            when l._given_system is null and s.n_systems > 1 then 'ambiguous_order_id'
            when l._given_system is not null and d.order_id is not null then 'order_after_run_date'
            when l._given_system is null and di.order_id is not null then 'order_after_run_date'
            else 'no_order'
        end as line_status
    from lines l
    left join systems s on s.order_id = l._order_id
    left join orders o on o.source_system = l._given_system and o.order_id = l._order_id
    left join delivered d on d.source_system = l._given_system and d.order_id = l._order_id
    left join delivered_ids di on di.order_id = l._order_id
),
latest as (
    select *, row_number() over (
        partition by _source_system, _order_id, coalesce(line_no, _line)
        order by _delivery_id desc, _line desc) as _version
    from resolved
)
select
    _order_id                                               as order_id,
    _source_system                                          as source_system,
    _source_system || ':' || _order_id                      as order_key,
    _given_system                                           as delivered_source_system,
    line_status,
    coalesce(line_no, row_number() over (
        partition by _source_system, _order_id order by _delivery_id, _line)) as line_no,
    trim(sku)                                               as sku,
    bz_fold_text(category)                                  as category,
    coalesce(quantity, 1)                                   as quantity,
    unit_price,
    {{ money('coalesce(amount, coalesce(quantity, 1) * unit_price)') }} as amount,
    unit_cost,
    {{ money('case when unit_cost is not null then coalesce(quantity, 1) * unit_cost end') }} as cost,
    _delivery_id,
    _line
from latest
where _version = 1
