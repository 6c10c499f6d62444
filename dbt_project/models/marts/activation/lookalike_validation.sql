-- How well the lookalike score finds MVCs among customers the fit never saw: the MVC rate in
-- the top decile and top fifth of held-out customers by score, against the MVC rate of all of them.
with v as (
    select *, percent_rank() over (order by lookalike_score desc) as from_top
    from {{ ref('int_lookalike__scores') }} where fold = 'validation'
)
select
    {{ as_of_date() }} as as_of_date,
    count(*) as validation_customers,
    avg(cast(is_mvc as int)) as base_mvc_rate,
    avg(cast(is_mvc as int)) filter (where from_top < 0.1) as top_decile_mvc_rate,
    avg(cast(is_mvc as int)) filter (where from_top < 0.1) / nullif(avg(cast(is_mvc as int)), 0) as lift_top_decile,
    avg(cast(is_mvc as int)) filter (where from_top < 0.2) / nullif(avg(cast(is_mvc as int)), 0) as lift_top_fifth
from v
