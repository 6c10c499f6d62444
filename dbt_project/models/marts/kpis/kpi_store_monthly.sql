-- Published as is from int_store__monthly_kpis (see its SQL for the rules).
select * from {{ ref('int_store__monthly_kpis') }}
