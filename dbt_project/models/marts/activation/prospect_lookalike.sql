-- Published as is from int_lookalike__prospects (see its yml for the rules).
select * from {{ ref('int_lookalike__prospects') }}
