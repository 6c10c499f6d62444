-- Calls a returned call sheet says were not made (issue 16). A sheet row that comes back through contacts/
-- with an empty outcome is no contact: the loader holds it in meta.quarantine as "not called" (rule of
-- bullseye.ingest.rules, reason call_outcomes.NOT_CALLED), where it stays, visible with its file and line.
-- This reads those held rows back with the contact_id the sheet carried (call:<run date>:<campaign>:
-- <customer>:<wave>, bullseye.activation.call_sheets.contact_id), so the contact ledger frees the plan it
-- names. A held record that is no JSON (cut because oversized) names no plan: its plan stays counted.
with held as (
    select delivery_id, path, line, record
    from {{ source('meta', 'quarantine') }}
    where source = 'contacts' and column_name = 'outcome' and action = 'row_held'
        and {{ text_starts_with('reason', "'not called:'") }}
)
select
    delivery_id,
    path,
    line,
    case when {{ json_is_valid('record') }} then nullif(trim({{ json_text('record', '$.contact_id') }}), '') end
        as contact_id,
    case when {{ json_is_valid('record') }} then nullif(trim({{ json_text('record', '$.campaign_id') }}), '') end
        as campaign_id,
    case when {{ json_is_valid('record') }} then nullif(trim({{ json_text('record', '$.customer_id') }}), '') end
        as customer_id
from held
