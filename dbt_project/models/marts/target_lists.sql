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
select run_date, campaign_id, customer_id, channel, reason, is_holdout,
    send_date, occurrence_key, wave, wave_name, rank_score, priority, send_after, send_before, detail
from {{ ref('contact_decisions') }}
where run_date = {{ as_of_date() }} and decision = 'included'
