{#- A data test's `where` config is rendered when dbt parses, so it cannot name the run date (the parse is
    reused from night to night: macros/as_of.sql). It writes __as_of_date__ instead, replaced here, when the
    test runs, by as_of_date(). Otherwise dbt's own get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__as_of_date__' in where -%}
            {%- set where = where | replace('__as_of_date__', as_of_date()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
