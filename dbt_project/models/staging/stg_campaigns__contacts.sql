-- A gateway reply (T, TD, 退订 ...) comes in a `reply` column, or among the extra fields when the file's header
-- was not the contract's.
{% set reply_json = json_text('_extra', '$.reply') %}
{% set reply_expr = reply_json %}
{% if execute %}
    {% set cols = adapter.get_columns_in_relation(source('campaigns', 'contacts')) | map(attribute='name') | map('lower') | list %}
    {% if 'reply' in cols %}{% set reply_expr = "coalesce(reply, " ~ reply_json ~ ")" %}{% endif %}
{% endif %}
{% call select_first_per(from=source('campaigns', 'contacts'), where="sent_at < " ~ as_of_end(),
                         partition_by='contact_id', order_by='_delivery_id desc, _line desc') %}
    contact_id, campaign_id, lower(channel) as channel, sent_at,
    customer_id, bz_phone_key(phone) as phone_key, bz_email_key(email) as email_key,
    coalesce(delivered, false) as delivered, opened, clicked,
    case when responded_at < {{ as_of_end() }} then responded_at end as responded_at,
    nullif(upper(trim(coupon_code)), '') as coupon_code, converted_order_id,
    coalesce(opt_out, false) as opt_out, coalesce(complaint, false) as complaint,
    nullif(trim({{ reply_expr }}), '') as reply
{% endcall %}
