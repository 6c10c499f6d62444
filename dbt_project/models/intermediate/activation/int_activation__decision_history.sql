-- Every night's contact decisions: earlier nights from the source history.contact_decisions (written
-- after each build by bullseye.history.record and committed with its night) and tonight's from
-- int_activation__decisions. A table rebuilt every night (also by --full-refresh) that never loses history:
-- the history lives in the source. A re-run replaces its own night; a backfill keeps the later nights.
select
    run_date, send_date, campaign_id, customer_id, occurrence_key, wave, wave_name, channel, decision, reason,
    detail, is_holdout, rank_score, priority, send_after, send_before, purpose, legal_basis, sms_signature,
    sms_opt_out_text
from {{ source('history', 'contact_decisions') }}
where run_date <> {{ as_of_date() }}
union all
select
    cast(run_date as date) as run_date, cast(send_date as date) as send_date,
    cast(campaign_id as {{ text_type() }}) as campaign_id, cast(customer_id as {{ text_type() }}) as customer_id,
    cast(occurrence_key as {{ text_type() }}) as occurrence_key, cast(wave as integer) as wave,
    cast(wave_name as {{ text_type() }}) as wave_name, cast(channel as {{ text_type() }}) as channel,
    cast(decision as {{ text_type() }}) as decision, cast(reason as {{ text_type() }}) as reason, cast(detail as {{ text_type() }}) as detail,
    cast(is_holdout as boolean) as is_holdout, cast(rank_score as double) as rank_score,
    cast(priority as integer) as priority,
    cast(send_after as timestamp) as send_after, cast(send_before as timestamp) as send_before,
    cast(purpose as {{ text_type() }}) as purpose, cast(legal_basis as {{ text_type() }}) as legal_basis,
    cast(sms_signature as {{ text_type() }}) as sms_signature, cast(sms_opt_out_text as {{ text_type() }}) as sms_opt_out_text
from {{ ref('int_activation__decisions') }}
