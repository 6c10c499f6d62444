-- Lifecycle stage history, one row each time a person's stage changes: earlier nights from the
-- source history.lifecycle_stages (written after each build by bullseye.history.record, committed
-- with its night), tonight's changes computed here; re-running a night replaces that night's rows,
-- and --full-refresh rebuilds it from the history without losing any.
-- Stages follow each customer's own rhythm: silence is counted in their usual gaps between purchases
-- (int_customer__purchase_rhythm.rhythm_days: with too few purchases of their own, the repurchase cycle of
-- what they bought, else everyone's usual gap), with BG/NBD p_alive as a second signal for repeat buyers
-- judged on their own rhythm or everyone's. Not for those judged on a category's cycle: BG/NBD fits one
-- purchase process to all buyers, so it calls a refrigerator buyer who came back once for a TV dormant or
-- lost after one or two silent years (on the demo night of 2026-11-25, p_alive < 0.30 from 6 months of silence
-- for buyers with two purchase days), well inside the category's cycle: the error the cycle corrects.
-- Hysteresis: entering dormant or lost needs the signal past its threshold; staying there
-- only needs it past (1 - lifecycle_hysteresis) of it, so a customer near a threshold does
-- not flip night after night. A purchase always ends dormancy. A backfill reads the stage
-- of the latest night before its date, so it reproduces that night.
{% set h = var('lifecycle_hysteresis') %}
with prev as (
    {% call select_first_per(from=source('history', 'lifecycle_stages'), partition_by='customer_id',
                             order_by='as_of_date desc', where='as_of_date < ' ~ as_of_date()) -%}
    customer_id, lifecycle_stage as prev_stage, last_purchase as prev_last_purchase
    {%- endcall %}
),
f as (
    select
        d.customer_id,
        d.customer_status,
        r.purchase_days,
        r.first_purchase,
        r.last_purchase,
        {{ days_between('r.last_purchase', as_of_date()) }} as recency_days,
        r.rhythm_days,
        {{ days_between('r.last_purchase', as_of_date()) }} / r.rhythm_days as silence_gaps,
        r.last_gap_days / r.rhythm_before_last_days as last_gap_in_gaps,
        case when c.repeat_purchases > 0 and r.rhythm_source in ('own', 'population') then c.p_alive end
            as p_alive,
        p.prev_stage,
        -- no purchase since the previous stage was set: the stay thresholds apply
        p.prev_stage is not null and r.last_purchase is not distinct from p.prev_last_purchase as unchanged
    from {{ ref('int_customer__profile') }} d
    left join {{ ref('int_customer__purchase_rhythm') }} r using (customer_id)
    left join {{ ref('int_customer__clv') }} c using (customer_id)
    left join prev p using (customer_id)
),
thresholds as (
    select *,
        {{ var('lifecycle_lost_gaps') }} * case when unchanged and prev_stage = 'lost' then 1 - {{ h }} else 1 end
            as lost_gaps,
        {{ var('lifecycle_lost_p_alive') }} * case when unchanged and prev_stage = 'lost' then 1 + {{ h }} else 1 end
            as lost_p,
        {{ var('lifecycle_dormant_gaps') }}
            * case when unchanged and prev_stage in ('dormant', 'lost') then 1 - {{ h }} else 1 end as dormant_gaps,
        {{ var('lifecycle_dormant_p_alive') }}
            * case when unchanged and prev_stage in ('dormant', 'lost') then 1 + {{ h }} else 1 end as dormant_p
    from f
),
staged as (
    select *,
        case
            when purchase_days is null then case when customer_status = 'lead' then 'warm_lead' else 'prospect' end
            when silence_gaps >= lost_gaps or p_alive < lost_p then 'lost'
            when silence_gaps >= dormant_gaps or p_alive < dormant_p then 'dormant'
            -- came back after a silence long enough to count as lost, or after we had them as lost
            when recency_days <= {{ var('lifecycle_won_back_days') }}
                 and (last_gap_in_gaps >= {{ var('lifecycle_lost_gaps') }} or (prev_stage = 'lost' and not unchanged))
                then 'won_back'
            when prev_stage = 'won_back' and unchanged and recency_days <= {{ var('lifecycle_won_back_days') }}
                then 'won_back'
            when first_purchase > {{ as_of_date() }} - interval {{ var('lifecycle_new_days') }} day then 'new'
            else 'active'
        end as lifecycle_stage
    from thresholds
),
tonight as (
select
    customer_id,
    {{ as_of_date() }} as as_of_date,
    lifecycle_stage,
    prev_stage as previous_stage,
    last_purchase,
    recency_days,
    rhythm_days,
    silence_gaps,
    p_alive
from staged
-- a person with no earlier stage gets a row; one whose stage did not change tonight gets none
where prev_stage is distinct from lifecycle_stage
)
select customer_id, as_of_date, lifecycle_stage, previous_stage, last_purchase, recency_days, rhythm_days,
    silence_gaps, p_alive
from {{ source('history', 'lifecycle_stages') }}
where as_of_date <> {{ as_of_date() }}
union all
select * from tonight
