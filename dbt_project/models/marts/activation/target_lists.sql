-- Contract table: one person on one campaign's list on one run date, for every night run
-- (re-running a night replaces its rows); see int_activation__list_history.
select * from {{ ref('int_activation__list_history') }}
