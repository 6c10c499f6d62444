{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where run_date = {{ as_of_date() }}{% endif %}"
) }}
-- Contract table: one person on one campaign's list on one run date, for every night run
-- (re-running a night replaces its rows). Holdout members are on the list (is_holdout) so
-- uplift can be measured, but are not exported for contact. The ledger reads earlier nights'
-- rows back: a list counts against frequency caps from the night it was exported.
-- Each row states its purpose (marketing or service) and the legal basis it relies on; sms rows
-- carry the policy's sender signature (签名) and opt-out text (回T退订) for the gateway.
select run_date, campaign_id, customer_id, channel, reason, is_holdout,
    send_date, occurrence_key, wave, wave_name, rank_score, priority, send_after, send_before, detail,
    purpose, legal_basis, sms_signature, sms_opt_out_text
from {{ ref('contact_decisions') }}
where run_date = {{ as_of_date() }} and decision = 'included'
