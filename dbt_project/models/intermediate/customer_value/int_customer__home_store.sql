-- Each person's home store and salesperson: from their most recently updated store CRM record.
-- joined_at: when that record joined (a member of the store since then; NULL when the record does not say).
with candidates as (
    select m.customer_id, c.store_id, c.employee_id, c.joined_at, c.updated_at, c.source_record_id
    from {{ ref('stg_crm__customers') }} c
    join {{ ref('int_identity__customer_map') }} m on m.source = 'crm_customers' and m.source_record_id = c.source_record_id
    where c.store_id is not null
)
{% call select_first_per(from='candidates', partition_by='customer_id',
                         order_by='updated_at desc nulls last, joined_at desc nulls last, source_record_id') -%}
    customer_id, store_id as home_store_id, employee_id as salesperson_id, joined_at
{%- endcall %}
