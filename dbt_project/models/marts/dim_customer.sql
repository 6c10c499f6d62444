-- Contract table: one row per unified person (customers and prospects), with the
-- golden value of each field. Survivorship (first version): the most trusted source
-- first (CRM, then purchased lists, then web), then the most recently seen non-empty value.
with r as (
    select r.*, m.customer_id
    from {{ ref('int_identity__records') }} r
    join {{ ref('customer_identity_map') }} m using (source, source_record_id)
),
orders as (
    select customer_id, count(*) filter (where not is_refunded) as n_orders, min(order_ts) as first_order_at
    from {{ ref('fct_orders') }}
    where customer_id is not null
    group by customer_id
)
select
    r.customer_id,
    first(r.name order by r.source_rank, r.seen_at desc nulls last) filter (where r.name is not null) as name,
    first(r.gender order by r.source_rank, r.seen_at desc nulls last) filter (where r.gender is not null) as gender,
    first(r.birth_date order by r.source_rank, r.seen_at desc nulls last) filter (where r.birth_date is not null) as birth_date,
    first(r.phone order by r.source_rank, r.seen_at desc nulls last)
        filter (where r.phone is not null and r.phone_issue is null) as phone,
    first(r.email order by r.source_rank, r.seen_at desc nulls last) filter (where r.email is not null) as email,
    first(r.province order by r.source_rank, r.seen_at desc nulls last) filter (where r.province is not null) as province,
    first(r.city order by r.source_rank, r.seen_at desc nulls last) filter (where r.city is not null) as city,
    first(r.district order by r.source_rank, r.seen_at desc nulls last) filter (where r.district is not null) as district,
    first(r.address order by r.source_rank, r.seen_at desc nulls last) filter (where r.address is not null) as address,
    least(min(r.first_seen_at), min(o.first_order_at)) as first_seen_at,
    coalesce(max(o.n_orders), 0) > 0 as is_customer,
    bool_or(r.source = 'lists') as is_on_purchased_list,
    bool_or(r.source = 'events') as is_web_visitor,
    count(*) as n_source_records,
    list_sort(list_distinct(list(r.source))) as sources
from r
left join orders o using (customer_id)
group by r.customer_id
