-- Every event that opens or closes a channel, for a person or for an address (a phone number or an
-- email, whoever carries it). A row is a person event (customer_id set, address_key NULL) or an
-- address event (address_type phone or email and its address_key set, customer_id NULL).
--
-- consents/ files:
--   * keyed by customer_id: a person event, read through merges to tonight's person
--     (int_identity__id_lineage; a retired id still binds the person it was merged into);
--   * keyed by a phone or email: an address event, binding that number or email for everyone who
--     carries it (the planner never uses it on the channels that send to it); and a person event for
--     its owner when exactly one person carries it (int_customer__key_owners);
--   * a withdrawal keyed by a number or email that several people share, on a channel that does not
--     send to that address (email withdrawn, given by phone): a person event for each person who
--     carries it (who asked is unknown, so the restriction binds them all; a grant binds no one).
-- contacts/ feedback: an opt-out (also a refusal replied to the gateway) or a complaint suppresses the
-- person on every channel from the moment it was reported (do_not_contact on 'all'), and binds the
-- address it came from: the number or email the contact names, else the person's own for that channel.
with keys as (select * from {{ ref('int_customer__key_owners') }}),
people as (select customer_id, current_customer_id from {{ ref('int_identity__id_lineage') }}),
carriers as (
    select distinct k.key_type, k.key_value, m.customer_id
    from {{ ref('int_identity__keys') }} k
    join {{ ref('int_identity__customer_map') }} m using (source, source_record_id)
    where k.key_type in ('phone', 'email')
),
src as (
    select c.*, coalesce(p.current_customer_id, kp.customer_id, ke.customer_id) as person_id
    from {{ ref('stg_consent__events') }} c
    left join people p on p.customer_id = c.customer_id
    left join keys kp on kp.key_type = 'phone' and kp.key_value = c.phone_key
    left join keys ke on ke.key_type = 'email' and ke.key_value = c.email_key
    where c.status in ('granted', 'withdrawn', 'do_not_contact')
),
consent_person as (
    select person_id as customer_id, channel, status, ts, coalesce(reason, 'consent file') as reason,
        'consents' as origin, _delivery_id, _line,
        cast(null as {{ text_type() }}) as address_type, cast(null as {{ text_type() }}) as address_key
    from src where person_id is not null
),
consent_address as (  -- one row per address the event names (a LATERAL union of the two broke Spark's optimizer)
    {% for t in ['phone', 'email'] -%}
    select cast(null as {{ text_type() }}) as customer_id, channel, status, ts, coalesce(reason, 'consent file') as reason,
        'consents' as origin, _delivery_id, _line, '{{ t }}' as address_type, {{ t }}_key as address_key
    from src
    where {{ t }}_key is not null
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),
consent_carriers as (
    select distinct k.customer_id, s.channel, s.status, s.ts,
        coalesce(s.reason, 'consent file') || ' (given for a shared ' || k.key_type || ')' as reason,
        'consents' as origin, s._delivery_id, s._line, cast(null as {{ text_type() }}) as address_type, cast(null as {{ text_type() }}) as address_key
    from src s
    join carriers k on (k.key_type = 'phone' and k.key_value = s.phone_key and s.channel not in ('sms', 'phone', 'all'))
                    or (k.key_type = 'email' and k.key_value = s.email_key and s.channel not in ('email', 'all'))
    where s.person_id is null and s.status = 'withdrawn'
),
refusals as (
    select c.*, coalesce(c.responded_at, c.sent_at) as refused_at,
        case when c.complaint then 'complaint'
             when c.reply is not null and c.opt_out then 'reply ' || c.reply
             else 'opt_out' end || ' on ' || c.campaign_id as refusal
    from {{ ref('int_campaign__contacts') }} c
    where c.opt_out or c.complaint
),
feedback_person as (
    select customer_id, 'all' as channel, 'do_not_contact' as status, refused_at as ts, refusal as reason,
        'contacts' as origin, cast(null as {{ text_type() }}) as _delivery_id, cast(null as bigint) as _line,
        cast(null as {{ text_type() }}) as address_type, cast(null as {{ text_type() }}) as address_key
    from refusals where customer_id is not null
),
feedback_address as (
    select cast(null as {{ text_type() }}) as customer_id, 'all' as channel, 'do_not_contact' as status, r.refused_at as ts,
        r.refusal as reason, 'contacts' as origin, cast(null as {{ text_type() }}) as _delivery_id, cast(null as bigint) as _line,
        case when r.channel in ('sms', 'phone') then 'phone' else 'email' end as address_type,
        coalesce(r.address_key,
                 case when r.channel in ('sms', 'phone') then d.phone when r.channel = 'email' then lower(d.email) end)
            as address_key
    from refusals r
    left join {{ ref('int_customer__profile') }} d on d.customer_id = r.customer_id
    where r.channel in ('sms', 'phone', 'email')
)
select * from consent_person
union all select * from consent_address
union all select * from consent_carriers
union all select * from feedback_person
union all select * from feedback_address where address_key is not null
