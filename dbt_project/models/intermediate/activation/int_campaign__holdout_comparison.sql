-- What a campaign wave added over its holdout, per campaign and wave, for plans whose attribution window has
-- closed by the run date (send_date + attribution_window_days <= run date). One plan is one person planned
-- for one send date; each arm (treated: planned for contact; holdout: drawn by a stable hash and not
-- contacted) is compared on what it did within the window after the send date, whatever the contacts say:
--   ordered          a paid, not refunded order in [send_date, send_date + window)
--   window_margin    the margin of those orders (orders without a known margin count 0, in both arms)
-- Incremental margin = (treated mean - holdout mean) x treated people: the margin the campaign added, not all
-- the margin of the people it reached. Incremental ROI = incremental margin / the contact cost of the treated
-- (contacts reported sent, matched to a treated plan as campaign_results and the ledger match them: same
-- campaign, person and channel, within the policy's ledger_match_days of the send date). Coupon discounts are
-- not added to that cost: an order's margin is already net of its discount.
-- 95% intervals: Welch's normal approximation for a difference of two means (sample variances, z = 1.96),
-- scaled by the treated count (margin) and then divided by the contact cost (ROI; the cost is known, not
-- estimated). No holdout, a holdout smaller than incremental_min_holdout, or fewer than two treated: the
-- incremental columns are NULL and incremental_note says why; a known incremental margin without a contact
-- cost leaves only the ROI NULL, with its note.
{% set window = var('attribution_window_days') %}
{% set min_holdout = var('incremental_min_holdout') %}
with plans as (  -- earlier plans' people as they are tonight (merges followed)
    select {{ star_replace('int_activation__list_history', 't',
                           [('customer_id', 'coalesce(l.current_customer_id, t.customer_id)')]) }}
    from {{ ref('int_activation__list_history') }} t
    left join {{ ref('int_identity__id_lineage') }} l on l.customer_id = t.customer_id
    where t.run_date <= {{ as_of_date() }}
),
policy as (select * from {{ ref('int_contact__policy_settings') }}),
orders as (
    select customer_id, order_date, coalesce(margin, 0) as margin
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null and not is_refunded
),
matured as (
    select p.campaign_id, p.wave, min(p.wave_name) as wave_name, p.customer_id, p.is_holdout, p.send_date
    from plans p
    where p.send_date + interval {{ window }} day <= {{ as_of_date() }}
    group by p.campaign_id, p.wave, p.customer_id, p.is_holdout, p.send_date
),
outcomes as (
    select m.*,
        count(o.customer_id) > 0 as ordered,
        coalesce(sum(o.margin), 0) as window_margin
    from matured m
    left join orders o on o.customer_id = m.customer_id
        and o.order_date >= m.send_date and o.order_date < m.send_date + interval {{ window }} day
    group by all
),
treated_contacts as (  -- each sent contact to the plan it carried out, as campaign_results matches it
    {% call select_first_per(from="(select c.contact_id, c.contact_cost, p.campaign_id, p.wave, p.customer_id,
            p.send_date, p.occurrence_key
        from " ~ ref('int_campaign__contacts') ~ " c
        cross join policy
        join plans p on p.campaign_id = c.campaign_id and p.customer_id = c.customer_id
            and p.channel = c.channel and not p.is_holdout
            and c.sent_date between " ~ sub_days('p.send_date', 'policy.ledger_match_days') ~ "
                                and " ~ add_days('p.send_date', 'policy.ledger_match_days') ~ ")",
        alias='cp', partition_by='contact_id',
        order_by='send_date desc nulls last, wave nulls last, occurrence_key nulls last') -%}
    contact_id, contact_cost, campaign_id, wave, customer_id, send_date
    {%- endcall %}
),
cost as (  -- of the contacts whose plan has matured
    select t.campaign_id, t.wave, sum(t.contact_cost) as treated_contact_cost
    from treated_contacts t
    join matured m on m.campaign_id = t.campaign_id and m.wave is not distinct from t.wave
        and m.customer_id = t.customer_id and m.send_date = t.send_date and not m.is_holdout
    group by all
),
arms as (
    select campaign_id, wave, min(wave_name) as wave_name,
        count(*) filter (where not is_holdout) as treated,
        avg(cast(ordered as int)) filter (where not is_holdout) as treated_order_rate,
        {{ avg_decimal_as_double('window_margin', 2, where='not is_holdout') }} as treated_margin_per_person,
        var_samp(window_margin) filter (where not is_holdout) as treated_margin_var,
        count(*) filter (where is_holdout) as holdout,
        avg(cast(ordered as int)) filter (where is_holdout) as holdout_order_rate,
        {{ avg_decimal_as_double('window_margin', 2, where='is_holdout') }} as holdout_margin_per_person,
        var_samp(window_margin) filter (where is_holdout) as holdout_margin_var
    from outcomes group by 1, 2
),
compared as (
    select a.*, coalesce(c.treated_contact_cost, 0) as treated_contact_cost,
        case when a.holdout = 0 then 'no holdout: no one of this wave was held out (the campaign''s holdout_share)'
             when a.holdout < {{ min_holdout }} then 'holdout too small: ' || a.holdout
                  || ' held out, fewer than incremental_min_holdout ({{ min_holdout }})'
             when a.treated < 2 then 'fewer than 2 treated people: no variance to judge them by'
        end as no_estimate,
        (a.treated_margin_per_person - a.holdout_margin_per_person) * a.treated as increment,
        1.96 * sqrt(a.treated_margin_var / a.treated + a.holdout_margin_var / a.holdout) * a.treated as half_width
    from arms a left join cost c using (campaign_id, wave)
)
select campaign_id, wave, wave_name,
    treated, treated_order_rate, holdout, holdout_order_rate,
    {{ money(round_double('treated_margin_per_person', 2)) }} as treated_margin_per_person,
    {{ money(round_double('holdout_margin_per_person', 2)) }} as holdout_margin_per_person,
    {{ money('round(treated_contact_cost, 2)') }} as treated_contact_cost,
    {{ money('case when no_estimate is null then ' ~ round_double('increment', 2) ~ ' end') }} as incremental_margin,
    {{ money('case when no_estimate is null then ' ~ round_double('increment - half_width', 2) ~ ' end') }} as incremental_margin_ci_low,
    {{ money('case when no_estimate is null then ' ~ round_double('increment + half_width', 2) ~ ' end') }} as incremental_margin_ci_high,
    case when no_estimate is null and treated_contact_cost > 0
         then {{ round_double('increment / treated_contact_cost', 4) }} end as incremental_roi,
    case when no_estimate is null and treated_contact_cost > 0
         then {{ round_double('(increment - half_width) / treated_contact_cost', 4) }} end as incremental_roi_ci_low,
    case when no_estimate is null and treated_contact_cost > 0
         then {{ round_double('(increment + half_width) / treated_contact_cost', 4) }} end as incremental_roi_ci_high,
    coalesce(no_estimate, case when treated_contact_cost = 0
        then 'incremental_roi: no contact cost reported for the treated people (no sent contact matched their plans)'
    end) as incremental_note
from compared
