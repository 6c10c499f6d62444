-- Tonight's lists with the person's audience row as the audience has it tonight: the contact fields each row's
-- channel needs (bullseye.activation.campaigns.CHANNEL_FIELDS) and the audience columns a campaign's
-- export_columns names (e.g. next_best_category for an offer that names the category): what the export step
-- writes. Kept with the night's build, so an export is always of the data its own night planned with.
select
    t.run_date, t.campaign_id, t.customer_id, t.channel, t.is_holdout, t.rank_score,
    {{ star_exclude('int_activation__audience', 'a', ['customer_id', 'household_key']) }}
from {{ ref('int_activation__list_history') }} t
join {{ ref('int_activation__audience') }} a using (customer_id)
where t.run_date = {{ as_of_date() }}
