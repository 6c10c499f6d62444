-- Published from int_customer__clv (see its yml for the rules), every column cast to the contract's type
-- (the Python model returns pandas floats: the amounts become the money type here, macros/money.sql):
-- on a night without a fit the Python model returns an empty frame whose date column has no type.
select
    cast(customer_id as {{ text_type() }}) as customer_id,
    cast(p_alive as double) as p_alive,
    cast(expected_purchases_52w as double) as expected_purchases_52w,
    {{ double_to_money('expected_avg_order_value') }} as expected_avg_order_value,
    {{ double_to_money('expected_revenue_52w') }} as expected_revenue_52w,
    {{ double_to_money('clv_52w') }} as clv_52w,
    cast(repeat_purchases as bigint) as repeat_purchases,
    cast(t_x_weeks as double) as t_x_weeks,
    cast(t_weeks as double) as t_weeks,
    cast(margin_rate as double) as margin_rate,
    cast(as_of_date as date) as as_of_date
from {{ ref('int_customer__clv') }}
