{#- The run date. It has no default: a build run by hand without it would run some past night and
    roll the identity state of every later night back. Compiling without it fails here; parsing
    (dbt parse, the manifest for Airflow) does not need it. The message is bullseye.config.AS_OF_MISSING's,
    which the Python models raise. -#}
{% macro as_of_value() -%}
    {%- set v = var("as_of", none) -%}
    {%- if v is none or v == "" -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("var as_of (the run date) is not set: run dbt with --vars '{as_of: YYYY-MM-DD}' (bullseye run and the Airflow DAG set it)") }}
        {%- else -%}
            1900-01-01
        {%- endif -%}
    {%- else -%}
        {{ v }}
    {%- endif -%}
{%- endmacro %}

{#- The first instant after the run date: data at or after it does not exist yet for this run. -#}
{% macro as_of_end() -%}
    (DATE '{{ as_of_value() }}' + INTERVAL 1 DAY)
{%- endmacro %}

{% macro as_of_date() -%}
    DATE '{{ as_of_value() }}'
{%- endmacro %}
