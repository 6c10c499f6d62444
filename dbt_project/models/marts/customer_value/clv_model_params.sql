-- Published as is from int_customer__clv_params (see its yml for the rules).
select * from {{ ref('int_customer__clv_params') }}
