-- The terms in force for each list on the run date: its latest accepted manifest acquired by then.
-- The loader accepts a redelivered manifest only when it narrows the terms (bullseye.ingest.licences),
-- so the latest accepted one is never wider than an earlier one. legal_basis is the documented code
-- (consent_with_transfer, contract, public, legal_duty, revoked) or NULL when the delivered text
-- names none of them; such a list is kept (scorecards) but never contacted (int_contact__list_terms).
{% call select_first_per(from=source('lists', 'list_manifests'), where="acquired_at <= " ~ as_of_date(),
                         partition_by='list_id', order_by='_delivery_id desc') %}
    list_id,
    vendor,
    acquired_at,
    bz_legal_basis(legal_basis) as legal_basis,
    legal_basis as legal_basis_text,
    coalesce(bz_legal_basis(legal_basis) in ('consent_with_transfer', 'contract', 'public', 'legal_duty'), false)
        as basis_valid,
    permitted_channels,
    expires_at,
    {{ money('cost') }} as cost
{% endcall %}
