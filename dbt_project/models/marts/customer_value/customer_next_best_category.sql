-- Published as is from int_customer__next_best_category (see its yml for the rules).
select * from {{ ref('int_customer__next_best_category') }}
