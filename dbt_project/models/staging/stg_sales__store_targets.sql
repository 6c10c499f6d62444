-- A store's revenue target per month (landing folder store_targets/, user input): month is the first day of the
-- month the delivered date falls in. A later delivery of the same store and month replaces the earlier one (a
-- target corrected mid-month); targets for months after the run date are kept (they are set in advance).
{% call select_first_per(from=source('sales', 'store_targets'), partition_by="trim(store_id), date_trunc('month', month)",
                         order_by='_delivery_id desc, _line desc') %}
    trim(store_id) as store_id,
    cast(date_trunc('month', month) as date) as month,
    {{ money('revenue_target') }} as revenue_target
{% endcall %}
