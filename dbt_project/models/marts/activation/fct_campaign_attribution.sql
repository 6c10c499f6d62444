-- Published as is from int_campaign__attribution (see its yml for the rules).
select * from {{ ref('int_campaign__attribution') }}
