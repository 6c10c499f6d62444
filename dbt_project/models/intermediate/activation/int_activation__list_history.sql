-- One person on one campaign's list on one run date, for every night run: the included decisions of
-- int_activation__decision_history. Holdout members are on the list (is_holdout) so uplift can be measured,
-- but are not exported for contact. Each row states its purpose (marketing or service) and the legal basis it
-- relies on; sms rows carry the policy's sender signature (签名) and opt-out text (回T退订) for the gateway.
select run_date, campaign_id, customer_id, channel, reason, is_holdout,
    send_date, occurrence_key, wave, wave_name, rank_score, priority, send_after, send_before, detail,
    purpose, legal_basis, sms_signature, sms_opt_out_text
from {{ ref('int_activation__decision_history') }}
where decision = 'included'
