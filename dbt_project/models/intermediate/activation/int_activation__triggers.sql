-- Dated occasions that start a campaign, one row per person and occasion, within
-- trigger_lookback_days before and trigger_horizon_days after the run date. days_until counts from
-- the send date (the run date + the policy's send_day_offset: tonight's lists go out then), so a
-- greeting "7 days ahead" arrives at most 7 days before the occasion and never after it:
--   birthday / wedding_anniversary: the next one on or after the send date (wedding_date from the CRM's
--       extra column); a customer who gave a lunar birthday gets lunar_birthday instead of birthday;
--   lunar_birthday: the next solar date, on or after the send date, of the lunar month/day the customer
--       gave (the CRM's lunar_birthday column; leap-month and 30th-day rules in int_calendar__lunar_birthdays);
--   festival: each festival or shopping day (int_calendar__festivals: 春节, 中秋节, 国庆节, 618, 双11) from the
--       send date to the horizon, for every person (customers, leads and prospects: the audience chooses);
--       occurrence_key festival:<festival>:<year>, the same for everyone, so each person gets it once a year;
--   purchase_anniversary: each whole year since a purchase, per order and category
--       (a campaign picks the years and categories, e.g. large appliances at 3, 5, 8 years);
--   service_step: each step of the service plan (seed service_plans) not yet done;
--       days_until < 0 means overdue.
-- is_quiet_season (rows with a category): the send date's month is in that category's quiet season
-- (int_sales__category_seasons); NULL when the history is too short to tell.
-- occurrence_key names the occasion, so waves and the ledger follow one occasion at a time; an
-- order's occasions name its order_key (source_system:order_id), as order ids repeat across systems.
{% set run = as_of_date() %}
{% set send = "(" ~ add_days(as_of_date(), "(select send_day_offset from " ~ ref('int_contact__policy_settings') ~ ")") ~ ")" %}
{% set lookback = var('trigger_lookback_days') %}
{% set horizon = var('trigger_horizon_days') %}
with people as (
    select customer_id, birth_date from {{ ref('int_customer__profile') }} where is_customer
),
lunar as (  -- the lunar birthday on the customer's most recently updated CRM record that gives one
    select m.customer_id,
        {{ value_at_max(struct_of([('month', 'c.lunar_birth_month'), ('day', 'c.lunar_birth_day'),
                                   ('leap', 'c.lunar_birth_leap')]),
                        "coalesce(c.updated_at, c.joined_at, timestamp '1900-01-01')") }} as lb
    from {{ ref('stg_crm__customers') }} c
    join {{ ref('int_identity__customer_map') }} m on m.source = 'crm_customers'
        and m.source_record_id = c.source_record_id
    where c.lunar_birth_month is not null
    group by 1
),
lunar_occasions as (
    select l.customer_id, min(d.solar_date) as event_date
    from lunar l
    join people p using (customer_id)
    join {{ ref('int_calendar__lunar_birthdays') }} d
        on d.lunar_month = l.lb.month and d.lunar_day = l.lb.day and d.is_leap_month = l.lb.leap
    where d.solar_date >= {{ send }}
    group by 1
),
festivals as (
    select p.customer_id, f.festival, f.year, f.event_date
    from {{ ref('int_customer__profile') }} p
    cross join {{ ref('int_calendar__festivals') }} f
    where f.event_date between {{ send }} and {{ send }} + interval {{ horizon }} day
),
quiet as (
    select category, is_quiet from {{ ref('int_sales__category_seasons') }}
    where month = month({{ send }})
),
wedding as (
    select m.customer_id, max(c.wedding_date) as wedding_date
    from {{ ref('stg_crm__customers') }} c
    join {{ ref('int_identity__customer_map') }} m on m.source = 'crm_customers'
        and m.source_record_id = c.source_record_id
    where c.wedding_date is not null
    group by 1
),
dates as (
    select customer_id, 'birthday' as trigger_type, birth_date as d from people
    where birth_date is not null and customer_id not in (select customer_id from lunar)
    union all
    select customer_id, 'wedding_anniversary', wedding_date from wedding
),
-- the occasion in the send date's year, or the next year's once it has passed by the send date
-- (29 Feb falls on 28 Feb)
yearly as (
    select customer_id, trigger_type, d,
        cast({{ add_years('d', 'cast(year(' ~ send ~ ') - year(d) as integer)') }} as date) as this_year
    from dates
),
occasions as (
    select customer_id, trigger_type,
        case when this_year < {{ send }}
             then cast({{ add_years('d', 'cast(year(' ~ send ~ ') - year(d) + 1 as integer)') }} as date)
             else this_year end as event_date
    from yearly
),
bought as (
    select o.customer_id, o.order_key, o.order_id, o.source_system as order_source_system, l.category,
        min(o.order_date) as order_date
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where o.customer_id is not null and not o.is_refunded and l.category is not null
    group by all
),
anniversaries as (
    select b.customer_id, b.order_key, b.order_id, b.order_source_system, b.category,
        cast(y.years as bigint) as years,  -- a BIGINT, as DuckDB's range gives it (Spark's sequence: INT)
        cast({{ add_years('b.order_date', 'y.years') }} as date) as event_date
    from bought b
    cross join (select {{ unnest_range(1, 16, 'years') }}) y
    where cast({{ add_years('b.order_date', 'y.years') }} as date)
          between {{ run }} - interval {{ lookback }} day and {{ run }} + interval {{ horizon }} day
),
service as (
    select customer_id, ts, type from {{ ref('int_service__interactions') }}
    where customer_id is not null and ts < {{ as_of_end() }}
),
steps as (
    select b.customer_id, b.order_key, b.order_id, b.order_source_system, b.category, p.step, p.action,
        cast({{ add_days('b.order_date', 'p.offset_days') }} as date) as event_date, p.grace_days,
        exists (select 1 from service s
                where s.customer_id = b.customer_id and s.ts >= b.order_date
                  and s.ts < {{ add_days('b.order_date', 'p.offset_days + p.grace_days') }}
                  and {{ list_has(split_text('p.done_by', '|'), 's.type') }}) as is_done
    from bought b join {{ ref('service_plans') }} p using (category)
    where cast({{ add_days('b.order_date', 'p.offset_days') }} as date)
          between {{ run }} - interval {{ lookback }} day and {{ run }} + interval {{ horizon }} day
)
select customer_id, trigger_type, trigger_type || ':' || customer_id || ':' || cast(event_date as {{ text_type() }})
        as occurrence_key,
    event_date, {{ days_between(send, 'event_date') }} as days_until,
    cast(null as {{ text_type() }}) as category, cast(null as integer) as years, cast(null as {{ text_type() }}) as step,
    cast(null as {{ text_type() }}) as order_id, cast(null as {{ text_type() }}) as order_source_system,
    cast(null as {{ text_type() }}) as festival, cast(null as boolean) as is_quiet_season
from occasions
where event_date <= {{ send }} + interval {{ horizon }} day
union all
select customer_id, 'lunar_birthday', 'lunar_birthday:' || customer_id || ':' || cast(event_date as {{ text_type() }}),
    event_date, {{ days_between(send, 'event_date') }}, null, null, null, null, null, null, null
from lunar_occasions
where event_date <= {{ send }} + interval {{ horizon }} day
union all
select customer_id, 'festival', 'festival:' || festival || ':' || year,
    event_date, {{ days_between(send, 'event_date') }}, null, null, null, null, null, festival, null
from festivals
union all
select a.customer_id, 'purchase_anniversary',
    'purchase_anniversary:' || a.order_key || ':' || a.category || ':' || a.years,
    a.event_date, {{ days_between(send, 'a.event_date') }}, a.category, a.years, null, a.order_id,
    a.order_source_system, null, q.is_quiet
from anniversaries a left join quiet q using (category)
union all
select s.customer_id, 'service_step', 'service_step:' || s.order_key || ':' || s.step,
    s.event_date, {{ days_between(send, 's.event_date') }}, s.category, null, s.step, s.order_id,
    s.order_source_system, null, q.is_quiet
from steps s left join quiet q using (category)
where not s.is_done
