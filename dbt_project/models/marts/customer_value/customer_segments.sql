-- Published as is from int_customer__segments (see its yml for the rules).
select * from {{ ref('int_customer__segments') }}
