-- Cross-sell rules A -> B from order lines, at two levels: categories and products (SKUs),
-- with baskets of one order ('order') or of everything a customer ever bought ('customer').
--   support = baskets with A and B / baskets; confidence = baskets with A and B / baskets with A;
--   lift = confidence / share of baskets with B.
-- Only pairs seen in at least cross_sell_min_baskets baskets are kept.
{% set levels = [('category', 'l.category'), ('product', 'l.sku')] %}
{% set baskets = [('order', 'o.order_key'), ('customer', 'o.customer_id')] %}
with items as (
    {% for level, item in levels %}{% for basket, key in baskets %}
    select distinct '{{ level }}' as level, '{{ basket }}' as basket_type, {{ key }} as basket, {{ item }} as item
    from {{ ref('int_orders__enriched') }} o join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where not o.is_refunded and {{ item }} is not null and {{ key }} is not null
    {% if not loop.last %}union all{% endif %}{% endfor %}{% if not loop.last %}union all{% endif %}{% endfor %}
),
n as (select level, basket_type, count(distinct basket) as baskets from items group by all),
single as (select level, basket_type, item, count(*) as baskets_with from items group by all),
pairs as (
    select a.level, a.basket_type, a.item as antecedent, b.item as consequent, count(*) as baskets_with_both
    from items a join items b
        on a.level = b.level and a.basket_type = b.basket_type and a.basket = b.basket and a.item <> b.item
    group by all
    having count(*) >= {{ var('cross_sell_min_baskets') }}
)
select
    p.level, p.basket_type, p.antecedent, p.consequent, p.baskets_with_both,
    p.baskets_with_both / n.baskets as support,
    p.baskets_with_both / sa.baskets_with as confidence,
    (p.baskets_with_both / sa.baskets_with) / (sb.baskets_with / n.baskets) as lift
from pairs p
join n using (level, basket_type)
join single sa on sa.level = p.level and sa.basket_type = p.basket_type and sa.item = p.antecedent
join single sb on sb.level = p.level and sb.basket_type = p.basket_type and sb.item = p.consequent
