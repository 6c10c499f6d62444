-- The reason-code table: every candidate of every campaign on every run date, included or
-- excluded, with one reason (included:dormant_mvc, excluded:cap_7d, excluded:no_sms_consent ...)
-- and a detail line naming each channel tried; the purpose (marketing or service) and, when included,
-- the legal basis the row relies on (consent, contract, list_licence:<basis> ...). "Why is she on the list,
-- or not?" is a lookup here. Re-running a night replaces that night's rows (int_activation__decision_history).
select * from {{ ref('int_activation__decision_history') }}
