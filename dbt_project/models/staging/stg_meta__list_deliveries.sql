-- The loader's ledger rows of list record files (source meta.load_ledger): one row per delivery of a file
-- under lists/<list_id>/, with its list folder (lower case) and rows in, loaded and held back. A redelivery
-- the loader skipped as a duplicate is left out.
select delivery_id, lower(regexp_extract(path, '^[^/]+/([^/]+)/', 1)) as folder, rows_in, rows_loaded,
       rows_quarantined
from {{ source('meta', 'load_ledger') }}
where lower(source) = 'lists' and outcome <> 'skipped_duplicate'
