-- Orders credited to a campaign contact, one row per credited order. A coupon code wins: the
-- order's coupon matches a contact's coupon for the same person, sent before the order
-- (the latest such contact). Otherwise the latest delivered contact within
-- attribution_window_days before the order gets it. Refunded orders are not credited.
-- Orders are keyed by order_key (source_system:order_id): order ids repeat across systems.
with orders as (
    select order_key, order_id, source_system, customer_id, order_ts, amount, margin,
        upper(trim(coupon_code)) as coupon_code
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null and not is_refunded
),
contacts as (select * from {{ ref('int_campaign__contacts') }} where customer_id is not null),
by_coupon as (
    {% call select_first_per(from='(select o.order_key, c.contact_id, c.sent_at from orders o join contacts c
        on c.customer_id = o.customer_id and c.coupon_code = o.coupon_code and c.sent_at <= o.order_ts)',
        partition_by='order_key', order_by='sent_at desc, contact_id', alias='oc') -%}
    order_key, contact_id, 'coupon' as method
    {%- endcall %}
),
by_window as (
    {% call select_first_per(from='(select o.order_key, c.contact_id, c.sent_at from orders o join contacts c
        on c.customer_id = o.customer_id and c.delivered and c.sent_at <= o.order_ts
        and o.order_ts < c.sent_at + interval ' ~ var('attribution_window_days') ~ ' day
    where o.order_key not in (select order_key from by_coupon))',
        partition_by='order_key', order_by='sent_at desc, contact_id', alias='oc') -%}
    order_key, contact_id, 'window' as method
    {%- endcall %}
),
credited as (select * from by_coupon union all select * from by_window)
select o.order_id, o.source_system, o.order_key, o.customer_id, o.order_ts, o.amount, o.margin, o.coupon_code,
    c.contact_id, c.campaign_id, c.channel, c.sent_at, cr.method,
    {{ days_between('c.sent_at', 'o.order_ts') }} as days_after_contact
from credited cr
join orders o using (order_key)
join contacts c using (contact_id)
