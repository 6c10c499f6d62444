{#- Fails on every row where the expression is not true. -#}
{% test dbt_utils_free_expression(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
