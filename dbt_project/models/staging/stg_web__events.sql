-- Web and app events up to the run date; phones and emails from form submits normalized.
select
    event_id,
    event_ts,
    anonymous_id,
    lower(event_type)                 as event_type,
    nullif(trim(user_id), '')         as user_id,
    bz_phone_key(phone)               as phone_key,
    bz_email_key(email)               as email_key,
    page_url,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    bz_province(province)             as province,
    bz_city(city)                     as city,
    properties
from {{ source('web', 'events') }}
where event_ts < {{ as_of_end() }}
qualify row_number() over (partition by event_id order by _delivery_id desc, _line desc) = 1
