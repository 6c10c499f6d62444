-- Every person who has not bought yet, scored by similarity to the MVC profile
-- (int_lookalike__scores). lookalike_percentile 1.0 = the most MVC-like prospect.
select customer_id, lookalike_score,
    percent_rank() over (order by lookalike_score) as lookalike_percentile,
    {{ as_of_date() }} as as_of_date
from {{ ref('int_lookalike__scores') }}
where fold = 'all'
