-- Cross-sell rules A -> B from order lines, at two levels: categories and products (SKUs),
-- with baskets of one order ('order') or of everything a customer ever bought ('customer').
--   support = baskets with A and B / baskets; confidence = baskets with A and B / baskets with A;
--   lift = confidence / share of baskets with B.
-- Only pairs seen in at least cross_sell_min_baskets baskets are kept.
{% set levels = [('category', 'l.category'), ('product', 'l.sku')] %}
{% set baskets = [('order', 'o.order_key'), ('customer', 'o.customer_id')] %}
with items as (
    {% for level, item in levels %}{% set outer = loop %}{% for basket, key in baskets %}
    select distinct {{ 2 * outer.index0 + loop.index0 }} as grain, '{{ level }}' as level, '{{ basket }}' as basket_type,
        {{ key }} as basket, {{ item }} as item
    from {{ ref('int_orders__enriched') }} o join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where not o.is_refunded and {{ item }} is not null and {{ key }} is not null
    {% if not loop.last %}union all{% endif %}{% endfor %}{% if not loop.last %}union all{% endif %}{% endfor %}
),
n as (select level, basket_type, count(distinct basket) as baskets from items group by all),
single as (select level, basket_type, item, count(*) as baskets_with from items group by all),
-- The self-join of a customer's whole history is the largest join of the night (about 140 s at scale 100):
-- it joins on one integer per (level, basket type), the grain, instead of two strings, counts each unordered
-- pair once (item code a < code b) and groups by integers; the names come back for the pairs kept.
item_codes as (
    select level, item, row_number() over (partition by level order by item) as item_code
    from (select distinct level, item from items) d
),
coded as (
    select i.grain, i.basket, c.item_code
    from items i join item_codes c on c.level = i.level and c.item = i.item
),
unordered as (
    select a.grain, a.item_code as code_a, b.item_code as code_b, count(*) as baskets_with_both
    from coded a join coded b on a.grain = b.grain and a.basket = b.basket and a.item_code < b.item_code
    group by all
    having count(*) >= {{ var('cross_sell_min_baskets') }}
),
grains as (select distinct grain, level, basket_type from items),
named as (
    select g.level, g.basket_type, ca.item as item_a, cb.item as item_b, u.baskets_with_both
    from unordered u
    join grains g on g.grain = u.grain
    join item_codes ca on ca.level = g.level and ca.item_code = u.code_a
    join item_codes cb on cb.level = g.level and cb.item_code = u.code_b
),
pairs as (
    select level, basket_type, item_a as antecedent, item_b as consequent, baskets_with_both from named
    union all
    select level, basket_type, item_b as antecedent, item_a as consequent, baskets_with_both from named
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
