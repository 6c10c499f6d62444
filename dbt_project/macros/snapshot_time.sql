{#- A snapshot's clock is the run date, not the wall clock: a night run again, or a killed night
    re-run, writes the same history (dbt's default stamps invalidated rows with now()). -#}
{% macro duckdb__snapshot_get_time() -%}
    cast(DATE '{{ as_of_value() }}' as timestamp)
{%- endmacro %}
