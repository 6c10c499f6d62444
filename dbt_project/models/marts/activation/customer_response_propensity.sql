-- Published as is from int_contact__response_propensity (see its yml for the rules).
select * from {{ ref('int_contact__response_propensity') }}
