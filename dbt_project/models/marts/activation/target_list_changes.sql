-- Each campaign's list against its previous night: who was added and who was removed, and
-- why (a removed person carries tonight's reason code, or excluded:left_audience when they
-- are no longer a candidate at all). The previous night's people are read through
-- int_identity__id_lineage: someone merged since is the same person, not a removal and an addition.
with tonight as (
    select * from {{ ref('int_activation__decision_history') }} where run_date = {{ as_of_date() }}
),
previous_night as (
    select campaign_id, max(run_date) as prev_run_date
    from {{ ref('int_activation__list_history') }} where run_date < {{ as_of_date() }}
    group by 1
),
prev as (
    {% call select_first_per(from="(select " ~ star_replace('int_activation__list_history', 't',
            [('customer_id', 'coalesce(l.current_customer_id, t.customer_id)')]) ~ ", t.customer_id as _bz_list_customer_id
        from " ~ ref('int_activation__list_history') ~ " t join previous_night p
            on p.campaign_id = t.campaign_id and p.prev_run_date = t.run_date
        left join " ~ ref('int_identity__id_lineage') ~ " l on l.customer_id = t.customer_id)",
        alias='t', partition_by='campaign_id, customer_id', order_by='is_holdout, _bz_list_customer_id') -%}
    *
    {%- endcall %}
),
now_in as (select * from tonight where decision = 'included')
select {{ as_of_date() }} as run_date, n.campaign_id, n.customer_id, 'added' as change, n.reason,
    n.channel, n.is_holdout, p0.prev_run_date
from now_in n
left join previous_night p0 using (campaign_id)
where not exists (select 1 from prev p where p.campaign_id = n.campaign_id and p.customer_id = n.customer_id)
union all
select {{ as_of_date() }}, p.campaign_id, p.customer_id, 'removed',
    coalesce(t.reason, 'excluded:left_audience'), p.channel, p.is_holdout, p.run_date
from prev p
left join tonight t on t.campaign_id = p.campaign_id and t.customer_id = p.customer_id
where t.decision is distinct from 'included'
