-- Contract table: one person on one campaign's list on one run date.
-- Holdout members are on the list (is_holdout) but are not exported for contact.
select run_date, campaign_id, customer_id, channel, reason, is_holdout
from {{ ref('int_activation__dormant_high_value') }}
where reason like 'included:%'
