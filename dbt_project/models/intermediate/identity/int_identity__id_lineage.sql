-- depends_on: {{ ref('int_identity__clusters') }}
-- Every customer_id ever issued up to the run date, and the id that person has tonight.
-- History keeps the id it had (target_lists, contact_decisions, the lifecycle history, the
-- contact files that come back): a merge retires an id into another (identity.journal), and
-- whatever needs today's person (frequency caps, waves, suppression, results) reads it through
-- here. Merge chains are followed to their end (A into B, later B into C: A is C tonight).
-- current_customer_id is NULL when the person has no record left tonight.
with recursive journal as (
    {% call select_first_per(from=source('identity', 'journal'), where="event = 'merge' and as_of <= " ~ as_of_date(),
                             partition_by='old_customer_id', order_by='as_of desc, new_customer_id') -%}
        old_customer_id, new_customer_id
    {%- endcall %}
),
issued as (
    select distinct customer_id from {{ source('identity', 'registry') }} where valid_from <= {{ as_of_date() }}
    union
    select distinct customer_id from {{ ref('int_identity__clusters') }}
),
chain(customer_id, target, hops) as (
    select customer_id, customer_id, 0 from issued
    union all
    select c.customer_id, j.new_customer_id, c.hops + 1
    from chain c join journal j on j.old_customer_id = c.target
    where c.hops < 100
),
resolved as (
    select customer_id, {{ value_at_max('target', 'hops') }} as target, max(hops) as hops from chain group by customer_id
),
tonight as (select distinct customer_id from {{ ref('int_identity__clusters') }})
select r.customer_id, t.customer_id as current_customer_id, r.hops as merges_followed,
    case when r.hops = 0 and t.customer_id is not null then 'current'
         when t.customer_id is not null then 'merged'
         else 'gone' end as status
from resolved r left join tonight t on t.customer_id = r.target
