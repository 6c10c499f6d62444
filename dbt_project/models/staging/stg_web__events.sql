-- Web and app events up to the run date; phones and emails from form submits normalized.
-- Incremental (macros/incremental.sql): a night adds the events that changed since the last one.
{{ config(materialized=incremental_on_duckdb(), unique_key='event_id', incremental_strategy='delete+insert',
          post_hook="{{ record_watermark(source('web', 'events')) }}") }}
{% call select_first_per(from=source('web', 'events'),
                         where="event_ts < " ~ as_of_end() ~ incremental_keys('event_id', source('web', 'events'), 'event_ts'),
                         partition_by='event_id', order_by='_delivery_id desc, _line desc') %}
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
{% endcall %}
