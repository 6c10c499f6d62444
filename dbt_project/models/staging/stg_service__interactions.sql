select
    interaction_id, ts, lower(type) as type,
    case when source_customer_id is not null
         then coalesce(trim(source_system), 'crm') || ':' || trim(source_customer_id) end as source_record_id,
    bz_phone_key(phone) as phone_key,
    {{ money('coalesce(cost, 0)') }} as cost
from {{ source('service', 'service') }}
where ts < {{ as_of_end() }}
qualify row_number() over (partition by interaction_id order by _delivery_id desc, _line desc) = 1
