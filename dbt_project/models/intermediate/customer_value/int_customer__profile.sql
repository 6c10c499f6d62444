-- Contract table: one row per unified person (customers and prospects), with the
-- golden value of each field, the source it survived from and when that source last
-- saw it (rules: seed survivorship_rules). Province, city and district come with the
-- chosen address, so an old record cannot pair a new street with an old city.
with r as (
    select r.*, m.customer_id
    from {{ ref('int_identity__records') }} r
    join {{ ref('int_identity__customer_map') }} m using (source, source_record_id)
),
g as (select * from {{ ref('int_customer__golden_fields') }}),
addr as (
    {% call select_first_per(from="(select g.customer_id, r.province, r.city, r.district, r.source
          from g join r on r.customer_id = g.customer_id and r.source_record_id = g.source_record_id
              and r.address = g.value
          where g.field = 'address')", alias='a', partition_by='a.customer_id', order_by='a.source') -%}
    a.customer_id, a.province, a.city, a.district
    {%- endcall %}
),
loc as (  -- for people without any address: their latest known region (a tie: the most trusted source)
    {%- set tie = "seen_at desc nulls last, source_rank, source, source_record_id" %}
    select customer_id,
        {{ first_in_order('province', tie ~ ', province', where='province is not null') }} as province,
        {{ first_in_order('city', tie ~ ', city', where='city is not null') }} as city,
        {{ first_in_order('district', tie ~ ', district', where='district is not null') }} as district
    from r group by customer_id
),
orders as (
    select customer_id, count(*) filter (where not is_refunded) as n_orders, min(order_ts) as first_order_at
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null
    group by customer_id
),
people as (
    select customer_id,
        min(first_seen_at) as first_seen_at,
        bool_or(source = 'lists') as is_on_purchased_list,
        bool_or(source = 'events') as is_web_visitor,
        bool_or(source = 'crm_customers') as is_in_crm,
        count(*) as n_source_records,
        {{ sorted_distinct_list('source') }} as sources
    from r group by customer_id
)
{%- set fields = ['name', 'gender', 'birth_date', 'phone', 'email', 'address'] %}
select
    p.customer_id,
    {%- for f in fields %}
    {% if f == 'birth_date' %}cast(max(g.value) filter (where g.field = 'birth_date') as date){% else %}max(g.value) filter (where g.field = '{{ f }}'){% endif %} as {{ f }},
    {%- endfor %}
    coalesce(any_value(a.province), any_value(l.province)) as province,
    coalesce(any_value(a.city), any_value(l.city)) as city,
    coalesce(any_value(a.district), any_value(l.district)) as district,
    least(any_value(p.first_seen_at), any_value(o.first_order_at)) as first_seen_at,
    coalesce(any_value(o.n_orders), 0) > 0 as is_customer,
    case
        when coalesce(any_value(o.n_orders), 0) > 0 then 'customer'
        when any_value(p.is_in_crm) or any_value(p.is_web_visitor) then 'lead'
        else 'prospect'
    end as customer_status,
    any_value(p.is_on_purchased_list) as is_on_purchased_list,
    any_value(p.is_web_visitor) as is_web_visitor,
    any_value(p.n_source_records) as n_source_records,
    any_value(p.sources) as sources,
    {%- for f in fields %}
    max(g.value_source) filter (where g.field = '{{ f }}') as {{ f }}_source,
    max(g.value_seen_at) filter (where g.field = '{{ f }}') as {{ f }}_seen_at{{ "," if not loop.last }}
    {%- endfor %}
from people p
left join g using (customer_id)
left join addr a using (customer_id)
left join loc l using (customer_id)
left join orders o using (customer_id)
group by p.customer_id
