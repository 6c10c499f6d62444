-- One row per purchased or exchanged list (vendor): how good the list turned out to be, as of the run date.
-- Rows delivered and held back come from the loader's accounts (meta.load_ledger, meta.quarantine; a list's
-- files sit in lists/<list_id>/); people are the persons its records resolved to (customer_identity_map).
-- "Existing" people were already in a store system or CRM; net new people are the rest. Contacts, responses
-- and purchases count from the list's acquisition date. Cost is the manifest's.
with manifests as (
    select list_id, vendor, acquired_at, cost from {{ ref('stg_lists__manifests') }}
),
files as (
    select delivery_id, folder, rows_in, rows_loaded, rows_quarantined
    from {{ ref('stg_meta__list_deliveries') }}
),
delivered as (
    select m.list_id, cast(sum(f.rows_in) as bigint) as rows_delivered, cast(sum(f.rows_loaded) as bigint) as rows_loaded,
           cast(sum(f.rows_quarantined) as bigint) as rows_quarantined
    from manifests m join files f on f.folder = lower(m.list_id)
    group by 1
),
reasons as (
    select m.list_id, q.reason, count(*) as n
    from manifests m
    join files f on f.folder = lower(m.list_id)
    join {{ ref('stg_meta__quarantine_reasons') }} q on q.delivery_id = f.delivery_id
    group by 1, 2
),
top_reasons as (
    select list_id, {{ ordered_string_agg("reason || ' (' || n || ')'", '; ', 'n desc, reason nulls last') }} as top_quarantine_reasons
    from (select *, row_number() over (partition by list_id order by n desc, reason nulls last) as rk from reasons)
    where rk <= 3
    group by 1
),
records as (
    select r.list_id, r.list_record_id, r.phone_e164, r.phone_issue, i.customer_id
    from {{ ref('int_lists__records') }} r
    left join {{ ref('int_identity__customer_map') }} i on i.source = 'lists' and i.source_record_id = r.source_record_id
),
existing as (
    select distinct customer_id from {{ ref('int_identity__customer_map') }} where source = 'crm_customers'
),
suppressed as (
    select distinct customer_id from {{ ref('int_contact__policy_state') }} where do_not_contact
),
people as (
    select distinct r.list_id, r.customer_id, m.acquired_at,
           e.customer_id is not null as is_existing, s.customer_id is not null as is_suppressed
    from records r
    join manifests m using (list_id)
    left join existing e on e.customer_id = r.customer_id
    left join suppressed s on s.customer_id = r.customer_id
    where r.customer_id is not null
),
outcomes as (
    select p.list_id, p.customer_id,
        exists (select 1 from {{ ref('int_campaign__contacts') }} c
                where c.customer_id = p.customer_id and c.sent_at >= p.acquired_at) as contacted,
        exists (select 1 from {{ ref('int_campaign__contacts') }} c
                where c.customer_id = p.customer_id and c.responded_at >= p.acquired_at) as responded,
        exists (select 1 from {{ ref('int_orders__enriched') }} o
                where o.customer_id = p.customer_id and o.order_ts >= p.acquired_at
                  and not coalesce(o.is_refunded, false)) as bought
    from people p
),
per_list as (
    select r.list_id,
        count(*) as records,
        count(*) filter (where r.phone_e164 is not null and r.phone_issue is null) as valid_phones,
        count(distinct r.customer_id) as people
    from records r group by 1
),
people_stats as (
    select p.list_id,
        count(*) filter (where p.is_existing) as existing_customers,
        count(*) filter (where not p.is_existing) as net_new_people,
        count(*) filter (where p.is_suppressed) as already_suppressed,
        count(*) filter (where o.contacted) as contacted,
        count(*) filter (where o.responded) as responded,
        count(*) filter (where o.bought) as bought
    from people p join outcomes o using (list_id, customer_id)
    group by 1
)
select
    m.list_id,
    m.vendor,
    m.acquired_at,
    coalesce(d.rows_delivered, 0)                                        as rows_delivered,
    coalesce(d.rows_loaded, 0)                                           as rows_loaded,
    coalesce(d.rows_quarantined, 0)                                      as rows_quarantined,
    coalesce(d.rows_quarantined, 0) / nullif(d.rows_delivered, 0)        as quarantine_rate,
    t.top_quarantine_reasons,
    coalesce(l.records, 0)                                               as records,
    coalesce(l.valid_phones, 0) / nullif(l.records, 0)                   as valid_phone_rate,
    coalesce(l.people, 0)                                                as people,
    coalesce(l.records, 0) - coalesce(l.people, 0)                       as duplicates_within_list,
    coalesce(s.existing_customers, 0)                                    as existing_customers,
    coalesce(s.existing_customers, 0) / nullif(l.people, 0)              as overlap_with_customers_rate,
    coalesce(s.net_new_people, 0)                                        as net_new_people,
    coalesce(s.already_suppressed, 0)                                    as already_suppressed,
    coalesce(s.already_suppressed, 0) / nullif(l.people, 0)              as already_suppressed_rate,
    coalesce(s.contacted, 0)                                             as contacted,
    coalesce(s.responded, 0)                                             as responded,
    coalesce(s.bought, 0)                                                as bought,
    m.cost,
    {{ money('m.cost / nullif(s.net_new_people, 0)') }}                  as cost_per_net_new_person,
    {{ money('m.cost / nullif(s.bought, 0)') }}                          as cost_per_buyer,
    {{ as_of_date() }}                                                   as as_of_date
from manifests m
left join delivered d using (list_id)
left join top_reasons t using (list_id)
left join per_list l using (list_id)
left join people_stats s using (list_id)
