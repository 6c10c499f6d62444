{#- Cross-database SQL (issue 18: the same models on DuckDB and on Apache Spark through dbt-spark).
    Each macro dispatches on the adapter (adapter.dispatch): duckdb__ is exactly the SQL the models wrote
    before (so the DuckDB build is unchanged), spark__ the Spark SQL of the same meaning, default__ plain SQL
    where there is one. The constructs not yet ported, per model, are listed in docs/spark_port.md. -#}

{#- The first row of each partition, in the given order: DuckDB's QUALIFY row_number() ... = 1.
    Used as a call block whose body is the select list:
        {% call select_first_per(from=source('x', 'y'), partition_by='id', order_by='_delivery_id desc',
                                 where='ts < ...', alias='r') %} col_a, lower(col_b) as col_b {% endcall %}
    partition_by, order_by and where read the relation's own columns (as QUALIFY and WHERE do); the select list
    is computed on the rows kept. Spark has no QUALIFY: the row number is taken in a subquery. The result is the
    same, since WHERE runs before QUALIFY and the select list is per row. -#}
{% macro select_first_per(from, partition_by, order_by, where=none, alias=none) -%}
    {{- return(adapter.dispatch('select_first_per', 'bullseye')(caller(), from, partition_by, order_by, where, alias)) -}}
{%- endmacro %}

{% macro default__select_first_per(columns, from, partition_by, order_by, where, alias) -%}
select {{ columns }}
from (
    select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _bz_first_row
    from {{ from }}{% if alias %} {{ alias }}{% endif %}
    {% if where %}where {{ where }}{% endif %}
) {{ alias or '_bz_first' }}
where {{ alias or '_bz_first' }}._bz_first_row = 1
{%- endmacro %}

{% macro duckdb__select_first_per(columns, from, partition_by, order_by, where, alias) -%}
select {{ columns }}
from {{ from }}{% if alias %} {{ alias }}{% endif %}
{% if where %}where {{ where }}
{% endif -%}
qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro spark__select_first_per(columns, from, partition_by, order_by, where, alias) -%}
    {{- default__select_first_per(columns, from, partition_by, order_by, where, alias) -}}
{%- endmacro %}


{#- The text at a JSON path ('$.key') of a JSON text, NULL when absent (DuckDB json_extract_string). -#}
{% macro json_text(expr, path) -%}
    {{- return(adapter.dispatch('json_text', 'bullseye')(expr, path)) -}}
{%- endmacro %}

{% macro default__json_text(expr, path) -%}
json_extract_string({{ expr }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_text(expr, path) -%}
get_json_object({{ expr }}, '{{ path }}')
{%- endmacro %}


{#- Whether a text is valid JSON (DuckDB json_valid). Spark 4: try_parse_json gives NULL for invalid JSON. -#}
{% macro json_is_valid(expr) -%}
    {{- return(adapter.dispatch('json_is_valid', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__json_is_valid(expr) -%}
json_valid({{ expr }})
{%- endmacro %}

{% macro spark__json_is_valid(expr) -%}
(try_parse_json({{ expr }}) is not null)
{%- endmacro %}


{#- Whether a text starts with a prefix (DuckDB starts_with, Spark startswith). -#}
{% macro text_starts_with(expr, prefix) -%}
    {{- return(adapter.dispatch('text_starts_with', 'bullseye')(expr, prefix)) -}}
{%- endmacro %}

{% macro default__text_starts_with(expr, prefix) -%}
starts_with({{ expr }}, {{ prefix }})
{%- endmacro %}

{% macro spark__text_starts_with(expr, prefix) -%}
startswith({{ expr }}, {{ prefix }})
{%- endmacro %}


{#- A text read as a date by the first of several formats that fits, else NULL (DuckDB try_strptime with a list).
    Formats are strftime's (%Y, %m, %d). On Spark each becomes a datetime pattern: %m and %d parse one or two
    digits between separators (DuckDB's %m reads 5 in 2012/5/20), two digits in a format without separators
    (20120520). -#}
{% macro try_parse_date(expr, formats) -%}
    {{- return(adapter.dispatch('try_parse_date', 'bullseye')(expr, formats)) -}}
{%- endmacro %}

{% macro default__try_parse_date(expr, formats) -%}
cast(try_strptime({{ expr }}, [{% for f in formats %}'{{ f }}'{% if not loop.last %}, {% endif %}{% endfor %}])
         as date)
{%- endmacro %}

{% macro spark__try_parse_date(expr, formats) -%}
cast(coalesce({% for f in formats -%}
    {%- set bare = f | replace('%Y', '') | replace('%m', '') | replace('%d', '') -%}
    {%- set pattern = f | replace('%Y', 'yyyy') | replace('%m', 'MM' if bare == '' else 'M')
                        | replace('%d', 'dd' if bare == '' else 'd') -%}
    try_to_timestamp({{ expr }}, '{{ pattern }}'){% if not loop.last %}, {% endif %}
{%- endfor %}) as date)
{%- endmacro %}


{#- The text type for casts (DuckDB varchar, Spark string). -#}
{% macro text_type() -%}
    {{- return(adapter.dispatch('text_type', 'bullseye')()) -}}
{%- endmacro %}

{% macro default__text_type() -%}
varchar
{%- endmacro %}

{% macro spark__text_type() -%}
string
{%- endmacro %}


{#- The most frequent non-NULL value, the lowest of those tied (DuckDB mode(x order by x); Spark's
    mode(x, true) is deterministic the same way). -#}
{% macro mode_lowest(expr) -%}
    {{- return(adapter.dispatch('mode_lowest', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__mode_lowest(expr) -%}
mode({{ expr }} order by {{ expr }})
{%- endmacro %}

{% macro spark__mode_lowest(expr) -%}
mode({{ expr }}, true)
{%- endmacro %}


{#- The value on the row where `by` is highest, rows with a NULL `by` left out (DuckDB arg_max, Spark max_by). -#}
{% macro value_at_max(value, by) -%}
    {{- return(adapter.dispatch('value_at_max', 'bullseye')(value, by)) -}}
{%- endmacro %}

{% macro default__value_at_max(value, by) -%}
arg_max({{ value }}, {{ by }})
{%- endmacro %}

{% macro spark__value_at_max(value, by) -%}
max_by({{ value }}, {{ by }})
{%- endmacro %}


{#- A select-list item that makes one row per date from start to stop (both included) in steps of `step` (an
    interval), named `alias`: DuckDB unnest(generate_series(..)) cast to date, Spark explode(sequence(..)). -#}
{% macro unnest_date_series(start, stop, step, alias) -%}
    {{- return(adapter.dispatch('unnest_date_series', 'bullseye')(start, stop, step, alias)) -}}
{%- endmacro %}

{% macro default__unnest_date_series(start, stop, step, alias) -%}
cast(unnest(generate_series({{ start }}, {{ stop }}, {{ step }})) as date) as {{ alias }}
{%- endmacro %}

{% macro spark__unnest_date_series(start, stop, step, alias) -%}
explode(sequence(cast({{ start }} as date), cast({{ stop }} as date), {{ step }})) as {{ alias }}
{%- endmacro %}


{#- A select-list item that makes one row per whole number from start up to stop, stop left out (DuckDB range),
    named `alias`. -#}
{% macro unnest_range(start, stop, alias) -%}
    {{- return(adapter.dispatch('unnest_range', 'bullseye')(start, stop, alias)) -}}
{%- endmacro %}

{% macro default__unnest_range(start, stop, alias) -%}
unnest(range({{ start }}, {{ stop }})) as {{ alias }}
{%- endmacro %}

{% macro spark__unnest_range(start, stop, alias) -%}
explode(sequence({{ start }}, {{ stop }} - 1)) as {{ alias }}
{%- endmacro %}


{#- The mean as a DOUBLE: DuckDB's avg of a DECIMAL is a DOUBLE already; Spark's is a DECIMAL with 4 more places,
    cast here to DOUBLE. -#}
{% macro avg_as_double(expr) -%}
    {{- return(adapter.dispatch('avg_as_double', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__avg_as_double(expr) -%}
avg({{ expr }})
{%- endmacro %}

{% macro spark__avg_as_double(expr) -%}
cast(avg({{ expr }}) as double)
{%- endmacro %}
