-- Each person's home store and salesperson: from their most recently updated store CRM record.
-- joined_at: when that record joined (a member of the store since then; NULL when the record does not say).
select m.customer_id, c.store_id as home_store_id, c.employee_id as salesperson_id, c.joined_at
from {{ ref('stg_crm__customers') }} c
join {{ ref('int_identity__customer_map') }} m on m.source = 'crm_customers' and m.source_record_id = c.source_record_id
where c.store_id is not null
qualify row_number() over (partition by m.customer_id
                           order by c.updated_at desc nulls last, c.joined_at desc nulls last, c.source_record_id) = 1
