-- Published as is from int_identity__customer_map (see its yml for the rules).
select * from {{ ref('int_identity__customer_map') }}
