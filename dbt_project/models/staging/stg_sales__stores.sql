{% call select_first_per(from=source('sales', 'stores'), partition_by='trim(store_id)',
                         order_by='_delivery_id desc, _line desc') %}
    trim(store_id) as store_id,
    store_name,
    bz_province(province) as province,
    bz_city(city) as city,
    bz_fold_text(district) as district,
    opened_at
{% endcall %}
