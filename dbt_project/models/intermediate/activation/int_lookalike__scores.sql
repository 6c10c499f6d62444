-- Naive-Bayes lookalike of the MVC profile on the attributes prospects also have: province,
-- gender, age band and list industry. Each attribute value gets the log-ratio of its share
-- among MVCs to its share among other buyers (add-one smoothing); a person's score is the sum.
-- Two fits: 'all' (every buyer; scores prospects) and 'validation' (buyers outside a stable
-- 30% hash sample; scores that sample so the lift is measured on customers the fit never saw).
-- Floats are summed over a list in a fixed order (list_sum(list(x order by key))): a plain sum
-- adds in whatever order parallel threads deliver, and its last digits vary from run to run.
with list_attrs as (  -- a person on several lists: the industry most of their records give (tie: by name)
    select m.customer_id, {{ mode_lowest('r.industry') }} as industry, max(r.age) as list_age
    from {{ ref('int_lists__records') }} r
    join {{ ref('int_identity__customer_map') }} m on m.source = 'lists' and m.source_record_id = r.source_record_id
    group by all
),
people as (
    select d.customer_id,
        coalesce(d.province, '?') as province,
        coalesce(d.gender, '?') as gender,
        coalesce(cast(cast(floor(coalesce({{ years_between('d.birth_date', as_of_date()) }}, la.list_age) / 10) * 10
                      as integer) as {{ text_type() }}), '?') as age_band,
        coalesce(la.industry, '?') as industry,
        s.value_tier is not null as is_buyer,
        s.value_tier = 'MVC' as is_mvc,
        {{ duckdb_hash("'lookalike' || d.customer_id") }} % 10 < {{ (var('lookalike_validation_share') * 10) | round | int }} as in_validation
    from {{ ref('int_customer__profile') }} d
    left join {{ ref('int_customer__segments') }} s using (customer_id)
    left join list_attrs la using (customer_id)
),
long as (
    -- one row per person and attribute (DuckDB's UNPIVOT of the four columns, written as a union)
    {% for a in ['province', 'gender', 'age_band', 'industry'] -%}
    select customer_id, is_buyer, is_mvc, in_validation, '{{ a }}' as attribute, {{ a }} as attribute_value
    from people
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),
folds as (select {{ unnest_texts(['all', 'validation'], 'fold') }}),
train as (
    select f.fold, l.* from long l cross join folds f
    where l.is_buyer and (f.fold = 'all' or not l.in_validation)
),
totals as (
    select fold, attribute, count(*) filter (where is_mvc) as mvc, count(*) filter (where not is_mvc) as other,
        count(distinct attribute_value) as k
    from train group by all
),
weights as (
    select t.fold, t.attribute, t.attribute_value,
        {{ duckdb_ln('(count(*) filter (where t.is_mvc) + 1) / (any_value(tt.mvc) + any_value(tt.k))') }}
        - {{ duckdb_ln('(count(*) filter (where not t.is_mvc) + 1) / (any_value(tt.other) + any_value(tt.k))') }} as weight
    from train t join totals tt using (fold, attribute)
    group by all
)
select f.fold, l.customer_id, any_value(l.is_buyer) as is_buyer, any_value(l.is_mvc) as is_mvc,
    any_value(l.in_validation) as in_validation,
    {{ list_sum_double(ordered_list('coalesce(w.weight, 0)', 'l.attribute')) }} as lookalike_score
from long l cross join folds f
left join weights w on w.fold = f.fold and w.attribute = l.attribute and w.attribute_value = l.attribute_value
where (f.fold = 'all' and not l.is_buyer) or (f.fold = 'validation' and l.is_buyer and l.in_validation)
group by all
