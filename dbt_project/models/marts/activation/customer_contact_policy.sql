-- Published as is from int_contact__policy_state (see its yml for the rules).
select * from {{ ref('int_contact__policy_state') }}
