-- A gateway reply (T, TD, 退订 ...) comes in a `reply` column, or among the extra fields when the file's header
-- was not the contract's.
{% set reply_expr = "json_extract_string(_extra, '$.reply')" %}
{% if execute %}
    {% set cols = adapter.get_columns_in_relation(source('campaigns', 'contacts')) | map(attribute='name') | map('lower') | list %}
    {% if 'reply' in cols %}{% set reply_expr = "coalesce(reply, json_extract_string(_extra, '$.reply'))" %}{% endif %}
{% endif %}
select
    contact_id, campaign_id, lower(channel) as channel, sent_at,
    customer_id, bz_phone_key(phone) as phone_key, bz_email_key(email) as email_key,
    coalesce(delivered, false) as delivered, opened, clicked,
    case when responded_at < {{ as_of_end() }} then responded_at end as responded_at,
    nullif(upper(trim(coupon_code)), '') as coupon_code, converted_order_id,
    coalesce(opt_out, false) as opt_out, coalesce(complaint, false) as complaint,
    nullif(trim({{ reply_expr }}), '') as reply
from {{ source('campaigns', 'contacts') }}
where sent_at < {{ as_of_end() }}
qualify row_number() over (partition by contact_id order by _delivery_id desc, _line desc) = 1
