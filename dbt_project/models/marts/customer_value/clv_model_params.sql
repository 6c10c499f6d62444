-- Published from int_customer__clv_params (see its yml for the rules), every column cast to the contract's
-- type: on a night without a fit the Python model returns an empty frame whose text and date columns have
-- no type.
select
    cast(model as {{ text_type() }}) as model,
    cast(parameter as {{ text_type() }}) as parameter,
    cast(value as double) as value,
    cast(n_customers as bigint) as n_customers,
    cast(calibration_end as date) as calibration_end,
    cast(log_likelihood as double) as log_likelihood,
    cast(time_unit as {{ text_type() }}) as time_unit
from {{ ref('int_customer__clv_params') }}
