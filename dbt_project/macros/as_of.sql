{#- The first instant after the run date: data at or after it does not exist yet for this run. -#}
{% macro as_of_end() -%}
    (DATE '{{ var("as_of") }}' + INTERVAL 1 DAY)
{%- endmacro %}

{% macro as_of_date() -%}
    DATE '{{ var("as_of") }}'
{%- endmacro %}
