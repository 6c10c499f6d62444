select
    ts, lower(trim(channel)) as channel, lower(trim(status)) as status,
    customer_id, bz_phone_key(phone) as phone_key, bz_email_key(email) as email_key, reason,
    _delivery_id, _line
from {{ source('consent', 'consents') }}
where ts < {{ as_of_end() }}
