{#- The run date. It has no default: a build run by hand without it would run some past night and
    roll the identity state of every later night back. Compiling without it fails here; parsing
    (dbt parse, the manifest for Airflow) does not need it. The message is bullseye.config.AS_OF_MISSING's,
    which the Python models raise.

    Where it comes from: the var as_of when given (the Airflow DAG, the unit tests' overrides, by hand),
    else $BULLSEYE_RUN_DATE, which `bullseye run` sets (bullseye.config.RUN_DATE_ENV). The variable is
    read only under `execute`, when the node runs: nothing dbt parses depends on it (parsing renders
    1900-01-01), so dbt's partial parse of an earlier night can be reused, and each night's SQL is
    compiled with that night's date. Never read it outside `execute`: dbt records env vars read while
    parsing and a parse would then depend on the date. -#}
{% macro as_of_value() -%}
    {%- set v = var("as_of", none) -%}
    {%- if v is none or v == "" -%}
        {%- if execute -%}
            {%- set v = env_var("BULLSEYE_RUN_DATE", "") | trim -%}
            {%- if v == "" -%}
                {{ exceptions.raise_compiler_error("var as_of (the run date) is not set: run dbt with --vars '{as_of: YYYY-MM-DD}' (bullseye run and the Airflow DAG set it)") }}
            {%- endif -%}
            {{ v }}
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
