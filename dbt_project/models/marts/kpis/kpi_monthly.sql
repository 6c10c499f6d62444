-- The KPIs of the store and salesperson review, per home store, salesperson and month (up to the run date):
--   new_customers       first purchase in the month
--   dormant_woken       a purchase after a silence of lifecycle_dormant_gaps usual gaps (but not lost)
--   lost_won_back       a purchase after a silence of lifecycle_lost_gaps usual gaps
--   grade_upgrades / grade_downgrades   grade changes that took effect in the month (customer_segments_history)
--   grade_entries / grade_exits   a customer's grade appearing (from none) or disappearing (to none): a grade
--                       needs a purchase in the value window, so A -> none -> C is an exit, then an entry,
--                       not an up- or downgrade. Changes are between a customer's consecutive snapshot rows:
--                       their first row is no change (a first purchase counts in new_customers)
--   buyers              customers who bought in the month
-- Silence is measured against the customer's usual gap as known at the run date.
with days as (
    select p.customer_id, p.order_date,
        {{ days_between('lag(p.order_date) over (partition by p.customer_id order by p.order_date)', 'p.order_date') }}
            / r.rhythm_days as gap_in_gaps
    from {{ ref('int_customer__purchase_days') }} p
    join {{ ref('int_customer__purchase_rhythm') }} r using (customer_id)
),
purchases as (
    select customer_id, date_trunc('month', order_date) as month,
        count(*) filter (where gap_in_gaps is null) as new_customers,
        count(*) filter (where gap_in_gaps >= {{ var('lifecycle_dormant_gaps') }}
                         and gap_in_gaps < {{ var('lifecycle_lost_gaps') }}) as dormant_woken,
        count(*) filter (where gap_in_gaps >= {{ var('lifecycle_lost_gaps') }}) as lost_won_back,
        1 as bought
    from days group by all
),
grades as (
    select customer_id, date_trunc('month', dbt_valid_from) as month,
        grade, lag(grade) over (partition by customer_id order by dbt_valid_from) as previous_grade,
        row_number() over (partition by customer_id order by dbt_valid_from) > 1 as has_previous
    from {{ ref('customer_segments_history') }}
    where dbt_valid_from < {{ as_of_end() }}  -- a backfill must not see later nights
),
grade_changes as (
    select customer_id, month,
        count(*) filter (where grade < previous_grade) as grade_upgrades,   -- 'A' < 'B': a better grade
        count(*) filter (where grade > previous_grade) as grade_downgrades,
        count(*) filter (where grade is not null and previous_grade is null) as grade_entries,
        count(*) filter (where grade is null and previous_grade is not null) as grade_exits
    from grades where has_previous
    group by all
),
per_customer as (
    select coalesce(p.customer_id, g.customer_id) as customer_id, coalesce(p.month, g.month) as month,
        coalesce(p.new_customers, 0) as new_customers, coalesce(p.dormant_woken, 0) as dormant_woken,
        coalesce(p.lost_won_back, 0) as lost_won_back, coalesce(p.bought, 0) as bought,
        coalesce(g.grade_upgrades, 0) as grade_upgrades, coalesce(g.grade_downgrades, 0) as grade_downgrades,
        coalesce(g.grade_entries, 0) as grade_entries, coalesce(g.grade_exits, 0) as grade_exits
    from purchases p full join grade_changes g using (customer_id, month)
)
select
    cast(c.month as date) as month,
    coalesce(h.home_store_id, 'none') as home_store_id,
    coalesce(h.salesperson_id, 'none') as salesperson_id,
    cast(sum(c.new_customers) as bigint) as new_customers,
    cast(sum(c.dormant_woken) as bigint) as dormant_woken,
    cast(sum(c.lost_won_back) as bigint) as lost_won_back,
    cast(sum(c.grade_upgrades) as bigint) as grade_upgrades,
    cast(sum(c.grade_downgrades) as bigint) as grade_downgrades,
    cast(sum(c.bought) as bigint) as buyers,
    cast(sum(c.grade_entries) as bigint) as grade_entries,  -- after buyers: the columns before them keep their places
    cast(sum(c.grade_exits) as bigint) as grade_exits
from per_customer c
left join {{ ref('int_customer__home_store') }} h using (customer_id)
group by all
