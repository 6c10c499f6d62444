-- Contact pressure per person: contacts sent, lists exported on earlier nights and
-- tonight's lists (holdout rows are kept for wave progress but do not count toward caps).
-- Contacts known only by their number (one two people share) count against that number's caps in
-- the planner (intermediate.int_contact__ledger keeps them); this per-person table leaves them out.
select customer_id, campaign_id, channel, contact_date, occurrence_key, wave, counts_toward_caps, source
from {{ ref('int_contact__ledger') }}
where customer_id is not null
union all
select customer_id, campaign_id, channel, send_date, occurrence_key, wave, not is_holdout,
    case when is_holdout then 'holdout' else 'planned' end
from {{ ref('int_activation__list_history') }}
where run_date = {{ as_of_date() }}
