-- One row per (source_system, source_customer_id): the latest delivered version,
-- with every identifying value normalized for matching.
-- Incremental (macros/incremental.sql): a night adds the records that changed since the last one.
{{ config(materialized=incremental_on_duckdb(), unique_key='source_record_id', incremental_strategy='delete+insert',
          post_hook="{{ record_watermark(source('crm', 'crm_customers')) }}") }}
with source as (
    select * from {{ source('crm', 'crm_customers') }}
    where coalesce(joined_at, updated_at, timestamp '1900-01-01') < {{ as_of_end() }}
    {{- incremental_keys("coalesce(trim(source_system), 'crm') || ':' || trim(source_customer_id)",
                         source('crm', 'crm_customers'), "coalesce(joined_at, updated_at, timestamp '1900-01-01')") }}
),
latest as (
    select *,
        row_number() over (
            partition by coalesce(source_system, 'crm'), source_customer_id
            order by updated_at desc nulls last, _delivery_id desc, _line desc
        ) as _version
    from source
)
select
    coalesce(trim(source_system), 'crm')                    as source_system,
    trim(source_customer_id)                                as source_customer_id,
    coalesce(trim(source_system), 'crm') || ':' || trim(source_customer_id) as source_record_id,
    name                                                    as name_raw,
    bz_person_name(name)                                    as name,
    bz_gender(gender)                                       as gender,
    birth_date,
    phone                                                   as phone_raw,
    bz_phone_e164(phone)                                    as phone_e164,
    bz_phone_issue(phone)                                   as phone_issue,
    bz_email_norm(email)                                    as email,
    bz_email_key(email)                                     as email_key,
    nullif(trim(wechat_unionid), '')                        as wechat_unionid,
    nullif(upper(trim(member_card_no)), '')                 as member_card_no,
    -- hashed (salted) by the loader before storing (bullseye.ingest.privacy): the salt never reaches dbt
    id_card_hash,
    bz_province(province)                                   as province,
    bz_city(city)                                           as city,
    bz_fold_text(district)                                  as district,
    bz_fold_text(address)                                   as address,
    nullif(trim(postcode), '')                              as postcode,
    store_id,
    employee_id,
    joined_at,
    updated_at,
    -- A survey answer delivered as an extra column: the customer's yearly budget for our categories.
    try_cast({{ json_text('_extra', '$.annual_budget') }} as double) as stated_annual_budget,
    -- An optional wedding_date column (any of 2012-05-20, 20120520, 2012/5/20) for anniversaries.
    {{ try_parse_date('trim(' ~ json_text('_extra', '$.wedding_date') ~ ')', ['%Y-%m-%d', '%Y%m%d', '%Y/%m/%d']) }}
         as wedding_date,
    -- An optional lunar_birthday column: the lunar month and day the customer celebrates, in numbers (08-15,
    -- 8/15, 闰04-10, L4-10, 1980-08-15) or words (八月十五, 农历正月初一, 腊月廿三, 闰四月初十), read by
    -- bullseye.normalize.lunar_birthday into MM-DD (闰MM-DD in a leap month). A value it cannot read is NULL here
    -- and reported by the loader (meta.quarantine, value_dropped, with its file and line).
    {% set lunar = "bz_lunar_birthday(" ~ json_text('_extra', '$.lunar_birthday') ~ ")" %}
    cast(substr({{ lunar }}, -5, 2) as integer)             as lunar_birth_month,
    cast(right({{ lunar }}, 2) as integer)                  as lunar_birth_day,
    {{ text_starts_with(lunar, "'闰'") }}                   as lunar_birth_leap,
    _delivery_id
from latest
where _version = 1
