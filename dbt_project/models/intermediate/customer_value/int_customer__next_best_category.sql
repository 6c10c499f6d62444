-- Each buyer's next best category: among categories they have not bought, the one that
-- customers with their categories go on to buy most often (customer-level rules of
-- category_associations with lift above 1; highest confidence wins).
with owned as (
    select distinct o.customer_id, l.category
    from {{ ref('int_orders__enriched') }} o join {{ ref('int_order_lines__enriched') }} l using (source_system, order_id)
    where o.customer_id is not null and not o.is_refunded and l.category is not null
),
rules as (
    select antecedent, consequent, confidence, lift from {{ ref('int_orders__category_associations') }}
    where level = 'category' and basket_type = 'customer' and lift > 1
),
candidates as (
    select w.customer_id, r.consequent as category, max(r.confidence) as confidence, max(r.lift) as lift,
        {{ first_in_order('r.antecedent', 'r.confidence desc, r.lift desc, r.antecedent') }} as because_of
    from owned w join rules r on r.antecedent = w.category
    where not exists (select 1 from owned x where x.customer_id = w.customer_id and x.category = r.consequent)
    group by all
)
{% call select_first_per(from='candidates', partition_by='customer_id', order_by='confidence desc, lift desc, category') -%}
customer_id, category as next_best_category, confidence, lift, because_of, {{ as_of_date() }} as as_of_date
{%- endcall %}
