-- The terms each list came with: who sold it, on what legal basis, for which channels, until when.
select
    list_id, vendor, acquired_at, legal_basis, permitted_channels, expires_at, cost
from {{ source('lists', 'list_manifests') }}
where acquired_at <= {{ as_of_date() }}
qualify row_number() over (partition by list_id order by _delivery_id desc) = 1
