-- Interest tags per person: the categories they buy and browse (product views of a SKU whose
-- category is known from order lines), and whether price or style leads them:
--   price_sensitive  at least price_sensitive_discount_share of their orders used a discount or coupon
--   style_led        at least style_led_premium_share of their lines above the category's median price, and
--                    fewer than style_led_max_discount_share of orders discounted
--   balanced         otherwise
-- top_category: the highest orders x interest_order_weight + views; a tie goes to more orders, then more views, then the
-- category name, so the same night gives the same answer.
with sku_category as (  -- a SKU's category: the one most of its lines carry (a tie: the first by name)
    select sku, {{ mode_lowest('category') }} as category
    from {{ ref('int_order_lines__enriched') }} where category is not null group by sku
),
category_price as (
    select category, {{ median_decimal('unit_price', 2) }} as median_price
    from {{ ref('int_order_lines__enriched') }} where category is not null group by category
),
bought as (
    select o.customer_id, l.category, count(distinct o.order_key) as orders,
        count(*) filter (where l.unit_price > cp.median_price) as premium_lines, count(*) as lines
    from {{ ref('int_orders__enriched') }} o
    join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    left join category_price cp using (category)
    where o.customer_id is not null and not o.is_refunded and l.category is not null
    group by all
),
browsed as (
    select m.customer_id, sc.category, count(*) as views
    from {{ ref('stg_web__events') }} e
    join {{ ref('int_identity__customer_map') }} m on m.source = 'events' and m.source_record_id = e.anonymous_id
    join sku_category sc on sc.sku = {{ json_text('e.properties', '$.sku') }}
    where e.event_type = 'product_view'
    group by all
),
interest as (
    select coalesce(b.customer_id, w.customer_id) as customer_id, coalesce(b.category, w.category) as category,
        coalesce(b.orders, 0) as orders, coalesce(w.views, 0) as views,
        coalesce(b.premium_lines, 0) as premium_lines, coalesce(b.lines, 0) as lines
    from bought b full join browsed w using (customer_id, category)
),
price as (
    select customer_id,
        {{ avg_decimal_as_double('case when discount_amount > 0 or coupon_code is not null then 1.0 else 0.0 end', 1) }}
            as discount_share
    from {{ ref('int_orders__enriched') }} where customer_id is not null and not is_refunded group by all
),
per_customer as (
    select customer_id,
        {{ ordered_list('category', 'orders desc, views desc, category', where='orders > 0') }} as bought_categories,
        {{ ordered_list('category', 'views desc, category', where='views > 0 and orders = 0') }}
            as browsed_only_categories,
        {{ first_in_order('category', 'orders * ' ~ var('interest_order_weight') ~ ' + views desc, orders desc, views desc, category') }}
            as top_category,
        sum(premium_lines) / nullif(sum(lines), 0) as premium_share
    from interest group by customer_id
)
select
    c.customer_id,
    c.bought_categories,
    c.browsed_only_categories,
    c.top_category,
    p.discount_share,
    c.premium_share,
    case
        when p.discount_share >= {{ var('price_sensitive_discount_share') }} then 'price_sensitive'
        when c.premium_share >= {{ var('style_led_premium_share') }}
             and coalesce(p.discount_share, 0) < {{ var('style_led_max_discount_share') }} then 'style_led'
        when p.discount_share is not null then 'balanced'
    end as price_style,
    {{ as_of_date() }} as as_of_date
from per_customer c left join price p using (customer_id)
