-- Contract table: each person's segments at the run date.
--   value_tier: BZ (below zero: negative profit over the trailing year, with a year of history),
--     MVC (most valuable: the top mvc_top_share of buyers by value), MGC (most growable: the top
--     mgc_top_share of the other buyers by potential gap), 'standard' for other buyers, NULL for
--     people who never bought.
--   mvc_subtype (MVC only): big_account (share of wallet >= big_account_share_of_wallet), steady
--     (regular gaps), seasonal (purchases in months that recur across years), other.
--   grade A-D on the same value scale: A = the MVC share, B up to grade_b_share, C the rest >= 0, D < 0.
--   lifecycle_stage: the latest stage of int_customer__lifecycle (with hysteresis).
{% set value_col = 'coalesce(v.clv_52w, 0)' if var('value_basis') == 'clv' else 'v.profit_12m' %}
with v as (
    select v.*, {{ value_col }} as value,
        cume_dist() over (order by {{ value_col }} desc) as value_top_share
    from {{ ref('int_customer__value') }} v
),
tiered as (
    select v.*,
        v.profit_12m < 0 and v.tenure_days >= {{ var('bz_min_tenure_days') }} as is_bz,
        v.value > 0 and v.value_top_share <= {{ var('mvc_top_share') }} as is_mvc
    from v
),
growable as (
    select customer_id,
        cume_dist() over (order by potential_gap desc) as gap_top_share
    from tiered where not is_bz and not is_mvc
),
stage as (
    select customer_id, lifecycle_stage, as_of_date as stage_since, previous_stage
    from {{ ref('int_customer__lifecycle') }}
    where as_of_date <= {{ as_of_date() }}
    qualify row_number() over (partition by customer_id order by as_of_date desc) = 1
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
        when t.customer_id is null then null
        when t.value < 0 then 'D'
        when t.value > 0 and t.value_top_share <= {{ var('mvc_top_share') }} then 'A'
        when t.value > 0 and t.value_top_share <= {{ var('grade_b_share') }} then 'B'
        else 'C'
    end as grade,
    s.lifecycle_stage,
    s.stage_since,
    datediff('day', r.last_purchase, {{ as_of_date() }}) as recency_days,
    -- silence counted in usual gaps between purchases: the lifecycle's main signal
    datediff('day', r.last_purchase, {{ as_of_date() }}) / r.rhythm_days as silence_gaps,
    t.share_of_wallet,
    t.value,
    t.profit_12m,
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
