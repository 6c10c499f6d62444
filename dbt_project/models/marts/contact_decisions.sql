{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where run_date = {{ as_of_date() }}{% endif %}"
) }}
-- The reason-code table: every candidate of every campaign on every run date, included or
-- excluded, with one reason (included:dormant_mvc, excluded:cap_7d, excluded:no_sms_consent ...)
-- and a detail line naming each channel tried; the purpose (marketing or service) and, when included,
-- the legal basis the row relies on (consent, contract, list_licence:<basis> ...). "Why is she on the list, or not?" is a lookup
-- here. Re-running a night replaces that night's rows.
select
    cast(run_date as date) as run_date, cast(send_date as date) as send_date,
    cast(campaign_id as varchar) as campaign_id, cast(customer_id as varchar) as customer_id,
    cast(occurrence_key as varchar) as occurrence_key, cast(wave as integer) as wave,
    cast(wave_name as varchar) as wave_name, cast(channel as varchar) as channel,
    cast(decision as varchar) as decision, cast(reason as varchar) as reason, cast(detail as varchar) as detail,
    cast(is_holdout as boolean) as is_holdout, cast(rank_score as double) as rank_score,
    cast(priority as integer) as priority,
    cast(send_after as timestamp) as send_after, cast(send_before as timestamp) as send_before,
    cast(purpose as varchar) as purpose, cast(legal_basis as varchar) as legal_basis,
    cast(sms_signature as varchar) as sms_signature, cast(sms_opt_out_text as varchar) as sms_opt_out_text
from {{ ref('int_activation__decisions') }}
