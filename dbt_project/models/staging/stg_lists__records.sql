-- Prospect list records as delivered, the latest delivery of each record (int_lists__records keeps those of
-- lists acquired by the run date).
{% call select_first_per(from=source('lists', 'lists'), alias='r', partition_by='r.list_id, r.list_record_id',
                         order_by='r._delivery_id desc, r._line desc') %}
    r.list_id,
    r.list_record_id,
    r.list_id || ':' || r.list_record_id            as source_record_id,
    bz_person_name(r.name)                          as name,
    bz_gender(r.gender)                             as gender,
    r.birth_date,
    r.age,
    r.phone                                         as phone_raw,
    bz_phone_e164(r.phone)                          as phone_e164,
    bz_phone_issue(r.phone)                         as phone_issue,
    bz_email_norm(r.email)                          as email,
    bz_email_key(r.email)                           as email_key,
    bz_province(r.province)                         as province,
    bz_city(r.city)                                 as city,
    bz_fold_text(r.district)                        as district,
    bz_fold_text(r.address)                         as address,
    r.postcode,
    r.company,
    r.title,
    r.industry,
    try_cast({{ json_text('r._extra', '$.annual_budget') }} as double) as stated_annual_budget
{% endcall %}
