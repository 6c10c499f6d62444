-- The terms under which each person may be contacted because they came from a purchased or
-- exchanged list: the manifest's permitted channels and expiry, one row per person and list.
-- A list without a valid legal basis (unknown or revoked) permits no channel: it is never contacted.
select distinct
    m.customer_id,
    r.list_id,
    case when s.basis_valid
         then coalesce({{ transform_list('cast(s.permitted_channels as ' ~ text_list_type() ~ ')', 'c', 'lower(trim(c))') }},
                       {{ empty_text_list() }})
         else {{ empty_text_list() }} end as permitted_channels,
    cast(s.expires_at as date) as expires_at,
    s.legal_basis,
    s.basis_valid
from {{ ref('int_lists__records') }} r
join {{ ref('int_identity__customer_map') }} m on m.source = 'lists' and m.source_record_id = r.source_record_id
join {{ ref('stg_lists__manifests') }} s using (list_id)
