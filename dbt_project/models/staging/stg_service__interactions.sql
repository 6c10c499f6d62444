{% call select_first_per(from=source('service', 'service'), where="ts < " ~ as_of_end(),
                         partition_by='interaction_id', order_by='_delivery_id desc, _line desc') %}
    interaction_id, ts, lower(type) as type,
    case when source_customer_id is not null
         then coalesce(trim(source_system), 'crm') || ':' || trim(source_customer_id) end as source_record_id,
    bz_phone_key(phone) as phone_key,
    {{ money('coalesce(cost, 0)') }} as cost
{% endcall %}
