select
    trim(store_id) as store_id,
    store_name,
    bz_province(province) as province,
    bz_city(city) as city,
    bz_fold_text(district) as district,
    opened_at
from {{ source('sales', 'stores') }}
qualify row_number() over (partition by trim(store_id) order by _delivery_id desc, _line desc) = 1
