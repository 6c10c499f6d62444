-- Published as is from int_customer__profile (see its yml for the rules).
select * from {{ ref('int_customer__profile') }}
