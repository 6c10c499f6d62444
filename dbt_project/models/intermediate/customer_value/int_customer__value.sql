-- Each customer's value over the trailing year (value_window_days) and their potential.
--   orders_12m: orders placed in the window, refunded ones included, cancelled ones not: a purchase in
--     the window (a customer who bought and sent it back did buy, and cost us the return).
--   customer_profit_12m = margin on kept orders - cost the customer caused (service and advice,
--     giveaways redeemed, return handling). Tiers and grades rank on it.
--   profit_12m = customer_profit_12m - our contact costs: reported, but our contacts are our marketing
--     spend, not a cost the customer caused, so they never make a customer below zero.
-- Coupons are already in the margin: an order's amount is net of its discount.
-- An order line without a unit cost takes the customer's margin rate (int_customer__clv_summary).
-- Budget (the customer's yearly wallet for our categories):
--   a stated yearly budget (survey or list column annual_budget) where given; otherwise the
--   budget_percentile of yearly spend among similar buyers (province, gender, age band; with fewer
--   than budget_min_peers of them: province; then all buyers). The budget is never raised to the
--   customer's own spend: a customer who already spends more than the estimate shows the estimate
--   does not hold for them, so their wallet is unknown (annual_budget and share_of_wallet NULL,
--   budget_source 'unknown: spend above the estimate (<source>)' says which estimate their spend
--   exceeded). A share of 1.0 then only
--   comes from a real estimate the customer's spend reaches.
-- Floats are summed over a list in a fixed order (list_sum(list(x order by key))): a plain sum
-- adds in whatever order parallel threads deliver, and its last digits vary from run to run.
{% set base_columns = ['customer_id', 'province', 'gender', 'age_band', 'first_purchase', 'last_purchase',
    'purchase_days', 'tenure_days', 'orders_12m', 'revenue_12m', 'margin_12m', 'refunded_orders_12m',
    'service_cost_12m', 'giveaway_cost_12m', 'return_cost_12m', 'contact_cost_12m', 'contacts_12m', 'margin_rate',
    'clv_52w', 'stated_annual_budget'] %}
{% set money_columns = ['revenue_12m', 'margin_12m', 'service_cost_12m', 'giveaway_cost_12m', 'return_cost_12m',
    'contact_cost_12m', 'clv_52w', 'stated_annual_budget', 'customer_profit_12m', 'profit_12m', 'annual_budget'] %}
{% set window_start %}({{ as_of_date() }} - interval {{ var('value_window_days') }} day){% endset %}
with map as (select * from {{ ref('int_identity__customer_map') }}),
orders as (
    select o.*, coalesce(o.margin, o.amount * s.margin_rate) as margin_est
    from {{ ref('int_orders__enriched') }} o
    left join {{ ref('int_customer__clv_summary') }} s using (customer_id)
    where o.customer_id is not null
),
sales as (
    select customer_id,
        round(coalesce(sum(amount) filter (where not is_refunded and order_date > {{ window_start }}), 0), 2) as revenue_12m,
        {{ round_double('coalesce(' ~ list_sum_double(ordered_list('margin_est', 'order_key',
            where='not is_refunded and order_date > ' ~ window_start)) ~ ', 0)', 2) }} as margin_12m,
        count(*) filter (where is_refunded and order_date > {{ window_start }}) as refunded_orders_12m,
        count(*) filter (where order_date > {{ window_start }}
                         and status not in ('cancelled', 'canceled')) as orders_12m
    from orders group by customer_id
),
service as (
    -- the seed service_cost_types says which interaction types are giveaways or returns; any other type
    -- is service (advice, repairs, visits); an interaction without a type counts in none
    select s.customer_id,
        round(sum(s.cost) filter (where c.cost_class = 'giveaway'), 2) as giveaway_cost,
        round(sum(s.cost) filter (where c.cost_class = 'return'), 2) as return_cost,
        round(sum(s.cost) filter (where s.type is not null and c.cost_class is null), 2) as service_cost
    from {{ ref('int_service__interactions') }} s
    left join {{ ref('service_cost_types') }} c using (type)
    where s.ts > {{ window_start }}
    group by 1
),
contacts as (
    select customer_id, round(sum(contact_cost), 2) as contact_cost, count(*) as contacts_12m
    from {{ ref('int_campaign__contacts') }}
    where sent_at > {{ window_start }} and customer_id is not null
    group by 1
),
stated as (
    select m.customer_id, max(b.stated_annual_budget) as stated_annual_budget
    from (
        select 'crm_customers' as source, source_record_id, stated_annual_budget from {{ ref('stg_crm__customers') }}
        union all
        select 'lists', source_record_id, stated_annual_budget from {{ ref('int_lists__records') }}
    ) b join map m using (source, source_record_id)
    where b.stated_annual_budget > 0
    group by 1
),
base as (
    select
        r.customer_id,
        d.province, d.gender,
        cast(floor({{ years_between('d.birth_date', as_of_date()) }} / 10) * 10 as integer) as age_band,
        r.first_purchase, r.last_purchase, r.purchase_days,
        {{ days_between('r.first_purchase', as_of_date()) }} as tenure_days,
        coalesce(s.orders_12m, 0) as orders_12m,
        s.revenue_12m, s.margin_12m, s.refunded_orders_12m,
        coalesce(sv.service_cost, 0) as service_cost_12m,
        coalesce(sv.giveaway_cost, 0) as giveaway_cost_12m,
        coalesce(sv.return_cost, 0) as return_cost_12m,
        coalesce(c.contact_cost, 0) as contact_cost_12m,
        coalesce(c.contacts_12m, 0) as contacts_12m,
        cs.margin_rate,
        clv.clv_52w,
        st.stated_annual_budget
    from {{ ref('int_customer__purchase_rhythm') }} r
    join {{ ref('int_customer__profile') }} d using (customer_id)
    left join sales s using (customer_id)
    left join service sv using (customer_id)
    left join contacts c using (customer_id)
    left join {{ ref('int_customer__clv_summary') }} cs using (customer_id)
    left join {{ ref('int_customer__clv') }} clv using (customer_id)
    left join stated st using (customer_id)
),
spenders as (select * from base where revenue_12m > 0),
cell as (
    select province, gender, age_band, count(*) as peers,
        {{ quantile_cont_decimal('revenue_12m', var('budget_percentile'), 2) }} as budget
    from spenders group by all
),
prov as (
    select province, count(*) as peers, {{ quantile_cont_decimal('revenue_12m', var('budget_percentile'), 2) }} as budget
    from spenders group by all
),
everyone as (select {{ quantile_cont_decimal('revenue_12m', var('budget_percentile'), 2) }} as budget from spenders),
estimated as (
    select b.*,
        {{ round_double('b.margin_12m - b.service_cost_12m - b.giveaway_cost_12m - b.return_cost_12m', 2) }}
            as customer_profit_12m,
        case
            when b.stated_annual_budget is not null then 'stated'
            when c.peers >= {{ var('budget_min_peers') }} then 'peers: province, gender, age band'
            when p.peers >= {{ var('budget_min_peers') }} then 'peers: province'
            else 'peers: all buyers'
        end as estimate_source,
        coalesce(b.stated_annual_budget,
                 case when c.peers >= {{ var('budget_min_peers') }} then c.budget
                      when p.peers >= {{ var('budget_min_peers') }} then p.budget
                      else e.budget end) as budget_estimate
    from base b
    left join cell c on c.province is not distinct from b.province and c.gender is not distinct from b.gender
        and c.age_band is not distinct from b.age_band
    left join prov p on p.province is not distinct from b.province
    cross join everyone e
),
budgeted as (
    -- every column of estimated but estimate_source and budget_estimate (DuckDB's * EXCLUDE, which Spark lacks)
    select {{ base_columns | join(', ') }}, customer_profit_12m,
        {{ round_double('customer_profit_12m - contact_cost_12m', 2) }} as profit_12m,
        -- the estimate holds only when the customer's own spend fits in it
        case when coalesce(revenue_12m, 0) <= budget_estimate then estimate_source
             else 'unknown: spend above the estimate (' || estimate_source || ')' end as budget_source,
        case when coalesce(revenue_12m, 0) <= budget_estimate then budget_estimate end as annual_budget
    from estimated
)
-- every amount in the money type (macros/money.sql); the share and the gap are computed from the same values
-- the columns in budgeted's order, the amounts replaced in place (DuckDB's * REPLACE, which Spark lacks)
select
{%- for c in base_columns + ['customer_profit_12m', 'profit_12m', 'budget_source', 'annual_budget'] %}
    {% if c == 'clv_52w' %}{{ double_to_money(c) }} as {{ c }}{% elif c in money_columns %}{{ money(c) }} as {{ c }}{% else %}{{ c }}{% endif %},
{%- endfor %}
    case when annual_budget > 0 then {{ divide_as_double('revenue_12m', 'annual_budget') }} end as share_of_wallet,
    -- what is left in the customer's wallet, at their margin (nothing when the wallet is unknown), plus
    -- the growth CLV expects
    {{ money(round_double('coalesce(annual_budget - revenue_12m, 0) * coalesce(margin_rate, 0)
          + greatest(coalesce(clv_52w, 0) - margin_12m, 0)', 2)) }} as potential_gap
from budgeted
