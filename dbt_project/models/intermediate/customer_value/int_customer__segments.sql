-- Contract table: each person's segments at the run date.
-- A buyer in the window: a customer with an order in the trailing value_window_days (orders_12m > 0,
-- refunded orders included, cancelled ones not). Value is what the customer caused: customer_profit_12m
-- (margin - service, giveaways, return handling; our own contact costs are our marketing spend and do
-- not count), or clv_52w when var value_basis is clv.
--   value_tier: NULL for people who never bought; for customers:
--     BZ (below zero): a buyer in the window whose customer_profit_12m is negative (they take the gifts,
--       use up service, send goods back), with at least bz_min_tenure_days of history;
--     MVC (most valuable): a buyer in the window with value > 0 among the top mvc_top_share of buyers in
--       the window by value;
--     MGC (most growable): a buyer in the window who kept goods (revenue_12m > 0), with a known wallet
--       of which we hold less than mgc_max_share_of_wallet, among the top mgc_top_share of such buyers
--       by potential_gap (a small share of a large wallet: the one to grow into an MVC);
--     standard: every other customer, including those with no purchase in the window.
--   mvc_subtype (MVC only): big_account (share of wallet >= big_account_share_of_wallet, on a known
--     wallet), steady (regular gaps), seasonal (purchases in months that recur across years), other.
--   grade A-D, for buyers in the window only, ranked among them on the same value: A = the MVC share,
--     B up to grade_b_share, C the rest >= 0, D < 0. No grade (NULL) without a purchase in the window:
--     there is nothing current to grade; lifecycle_stage says where such a customer stands.
--   lifecycle_stage: the latest stage of int_customer__lifecycle (with hysteresis).
{% set value_col = 'coalesce(v.clv_52w, 0)' if var('value_basis') == 'clv' else 'v.customer_profit_12m' %}
with v as (
    select v.*, {{ value_col }} as value, v.orders_12m > 0 as bought_in_window
    from {{ ref('int_customer__value') }} v
),
ranked as (  -- buyers in the window, ranked on value among themselves
    select customer_id, cume_dist() over (order by value desc) as value_top_share
    from v where bought_in_window
),
tiered as (
    select v.*, r.value_top_share,
        v.bought_in_window and v.customer_profit_12m < 0
            and v.tenure_days >= {{ var('bz_min_tenure_days') }} as is_bz,
        v.bought_in_window and v.value > 0 and r.value_top_share <= {{ var('mvc_top_share') }} as is_mvc
    from v left join ranked r using (customer_id)
),
growable as (
    select customer_id,
        cume_dist() over (order by potential_gap desc) as gap_top_share
    from tiered
    where not is_bz and not is_mvc and revenue_12m > 0
        and share_of_wallet < {{ var('mgc_max_share_of_wallet') }}
),
stage as (
    {% call select_first_per(from=ref('int_customer__lifecycle'), partition_by='customer_id',
                             order_by='as_of_date desc', where='as_of_date <= ' ~ as_of_date()) -%}
    customer_id, lifecycle_stage, as_of_date as stage_since, previous_stage
    {%- endcall %}
)
select
    d.customer_id,
    case
        when t.customer_id is null then null
        when t.is_bz then 'BZ'
        when t.is_mvc then 'MVC'
        when g.gap_top_share <= {{ var('mgc_top_share') }} then 'MGC'
        else 'standard'
    end as value_tier,
    case when t.is_mvc and not t.is_bz then
        case
            when t.share_of_wallet >= {{ var('big_account_share_of_wallet') }} then 'big_account'
            when r.is_steady then 'steady'
            when r.is_seasonal then 'seasonal'
            else 'other'
        end
    end as mvc_subtype,
    case
        when not coalesce(t.bought_in_window, false) then null
        when t.value < 0 then 'D'
        when t.value > 0 and t.value_top_share <= {{ var('mvc_top_share') }} then 'A'
        when t.value > 0 and t.value_top_share <= {{ var('grade_b_share') }} then 'B'
        else 'C'
    end as grade,
    s.lifecycle_stage,
    s.stage_since,
    {{ days_between('r.last_purchase', as_of_date()) }} as recency_days,
    -- silence counted in usual gaps between purchases: the lifecycle's main signal
    {{ days_between('r.last_purchase', as_of_date()) }} / r.rhythm_days as silence_gaps,
    t.share_of_wallet,
    {{ money('t.value') }} as value,
    t.profit_12m,
    t.customer_profit_12m,
    t.orders_12m,
    t.revenue_12m,
    t.margin_12m,
    t.service_cost_12m,
    t.giveaway_cost_12m,
    t.return_cost_12m,
    t.contact_cost_12m,
    t.annual_budget,
    t.budget_source,
    t.potential_gap,
    case when r.is_steady then 'steady' when r.is_seasonal then 'seasonal'
         when r.customer_id is not null then 'irregular' end as purchase_pattern,
    h.home_store_id,
    h.salesperson_id,
    {{ as_of_date() }} as as_of_date,
    cast({{ as_of_date() }} as timestamp) as segment_run_at
from {{ ref('int_customer__profile') }} d
left join tiered t using (customer_id)
left join growable g using (customer_id)
left join {{ ref('int_customer__purchase_rhythm') }} r using (customer_id)
left join stage s using (customer_id)
left join {{ ref('int_customer__home_store') }} h using (customer_id)
