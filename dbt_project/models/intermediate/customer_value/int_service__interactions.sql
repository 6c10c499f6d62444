-- Service interactions (hotline, repair, install, giveaways redeemed, returns) tied to people:
-- through the store CRM record they name, else a phone that belongs to one person.
select s.interaction_id, s.ts, s.type, s.cost,
    coalesce(m.customer_id, pp.customer_id) as customer_id
from {{ ref('stg_service__interactions') }} s
left join {{ ref('int_identity__customer_map') }} m
    on m.source = 'crm_customers' and m.source_record_id = s.source_record_id
left join {{ ref('int_customer__key_owners') }} pp on pp.key_type = 'phone' and pp.key_value = s.phone_key
