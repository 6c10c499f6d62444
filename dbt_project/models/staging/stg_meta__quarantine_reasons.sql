-- Why rows and values were held back at load (source meta.quarantine): one row per quarantined row or value,
-- with its delivery and reason only (the held values stay in meta.quarantine).
select delivery_id, reason
from {{ source('meta', 'quarantine') }}
