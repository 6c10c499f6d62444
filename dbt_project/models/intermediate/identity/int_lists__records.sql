-- Prospect list records of lists acquired by the run date (stg_lists__manifests keeps only those), with
-- the list's acquisition date.
select r.*, m.acquired_at
from {{ ref('stg_lists__records') }} r
join {{ ref('stg_lists__manifests') }} m using (list_id)
