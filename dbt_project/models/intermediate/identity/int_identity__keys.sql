-- Identifying keys per source record, long form: one row per (record, key type, value).
-- Junk values (13800138000, test@test.com ...) were already turned into NULL by the
-- bz_*_key normalizers, so they never reach this table.
with crm as (
    select source_record_id, source_system, source_customer_id,
        case when phone_issue is null then phone_e164 end as phone, email_key, wechat_unionid,
        member_card_no, id_card_hash
    from {{ ref('stg_crm__customers') }}
),
lists as (
    select source_record_id, case when phone_issue is null then phone_e164 end as phone, email_key
    from {{ ref('int_lists__records') }}
),
keys as (
    select 'crm_customers' as source, source_record_id, 'phone' as key_type, phone as key_value from crm
    union all select 'crm_customers', source_record_id, 'email', email_key from crm
    union all select 'crm_customers', source_record_id, 'wechat_unionid', wechat_unionid from crm
    union all select 'crm_customers', source_record_id, 'member_card', member_card_no from crm
    union all select 'crm_customers', source_record_id, 'id_card', id_card_hash from crm
    union all select 'crm_customers', source_record_id, 'web_login', source_customer_id from crm
        where source_system = '{{ var("web_login_source_system") }}'
    union all select 'lists', source_record_id, 'phone', phone from lists
    union all select 'lists', source_record_id, 'email', email_key from lists
    union all select distinct 'events', anonymous_id, 'phone', phone_key from {{ ref('stg_web__events') }}
    union all select distinct 'events', anonymous_id, 'email', email_key from {{ ref('stg_web__events') }}
    union all select distinct 'events', anonymous_id, 'web_login', user_id from {{ ref('stg_web__events') }}
)
select distinct source, source_record_id, key_type, key_value
from keys
where key_value is not null
