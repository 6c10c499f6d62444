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


{#- Whole days from start to stop, a BIGINT (DuckDB datediff('day', start, stop); Spark's datediff takes stop first
    and gives an INT). -#}
{% macro days_between(start, stop) -%}
    {{- return(adapter.dispatch('days_between', 'bullseye')(start, stop)) -}}
{%- endmacro %}

{% macro default__days_between(start, stop) -%}
datediff('day', {{ start }}, {{ stop }})
{%- endmacro %}

{% macro spark__days_between(start, stop) -%}
cast(datediff({{ stop }}, {{ start }}) as bigint)
{%- endmacro %}


{#- Ordered aggregates (DuckDB first(x order by ..) and list(x order by ..), optionally with FILTER (WHERE ..)).
    order_by is DuckDB's text: keys separated by commas (a key holds no comma), each `expr [asc|desc]
    [nulls first|last]`; DuckDB puts NULLs last in both directions unless told. Spark has neither: the rows
    are collected as structs (the value and the keys), sorted by array_sort with a comparator that follows
    DuckDB's order key by key, NULLs included. A tie on every key leaves the order open, as on DuckDB: give a
    last key that decides. -#}
{% macro _spark_ordered_structs(value, order_by, where) -%}
    {%- set keys = [] -%}
    {%- for raw in order_by.split(',') -%}
        {%- set k = raw.strip() -%}
        {%- set nulls_first = k.lower().endswith(' nulls first') -%}
        {%- if nulls_first -%}{%- set k = k[:-12].strip() -%}
        {%- elif k.lower().endswith(' nulls last') -%}{%- set k = k[:-11].strip() -%}{%- endif -%}
        {%- set desc = k.lower().endswith(' desc') -%}
        {%- if desc -%}{%- set k = k[:-5].strip() -%}
        {%- elif k.lower().endswith(' asc') -%}{%- set k = k[:-4].strip() -%}{%- endif -%}
        {%- do keys.append({'expr': k, 'desc': desc, 'nulls_first': nulls_first}) -%}
    {%- endfor -%}
array_sort(
    collect_list(named_struct('v', {{ value }}{% for k in keys %}, 'k{{ loop.index0 }}', {{ k.expr }}{% endfor %}))
        {%- if where %} filter (where {{ where }}){% endif %},
    (l, r) -> case
    {%- for k in keys %}{% set n = 'k' ~ loop.index0 %}
        when l.{{ n }} is null and r.{{ n }} is not null then {{ -1 if k.nulls_first else 1 }}
        when l.{{ n }} is not null and r.{{ n }} is null then {{ 1 if k.nulls_first else -1 }}
        when l.{{ n }} < r.{{ n }} then {{ 1 if k.desc else -1 }}
        when l.{{ n }} > r.{{ n }} then {{ -1 if k.desc else 1 }}
    {%- endfor %}
        else 0 end)
{%- endmacro %}

{#- The value on the first row in the order (DuckDB first(value order by ..)); NULL without rows. -#}
{% macro first_in_order(value, order_by, where=none) -%}
    {{- return(adapter.dispatch('first_in_order', 'bullseye')(value, order_by, where)) -}}
{%- endmacro %}

{% macro default__first_in_order(value, order_by, where) -%}
first({{ value }} order by {{ order_by }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{% macro spark__first_in_order(value, order_by, where) -%}
try_element_at({{ _spark_ordered_structs(value, order_by, where) }}, 1).v
{%- endmacro %}

{#- The values in the order (DuckDB list(value order by ..)); NULL without rows, as DuckDB's list. -#}
{% macro ordered_list(value, order_by, where=none) -%}
    {{- return(adapter.dispatch('ordered_list', 'bullseye')(value, order_by, where)) -}}
{%- endmacro %}

{% macro default__ordered_list(value, order_by, where) -%}
list({{ value }} order by {{ order_by }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{% macro spark__ordered_list(value, order_by, where) -%}
    {%- set sorted = _spark_ordered_structs(value, order_by, where) -%}
case when size({{ sorted }}) > 0 then transform({{ sorted }}, x -> x.v) end
{%- endmacro %}


{#- The distinct non-NULL values of a group, sorted (DuckDB list_sort(list_distinct(list(x)))). -#}
{% macro sorted_distinct_list(expr) -%}
    {{- return(adapter.dispatch('sorted_distinct_list', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__sorted_distinct_list(expr) -%}
list_sort(list_distinct(list({{ expr }})))
{%- endmacro %}

{% macro spark__sorted_distinct_list(expr) -%}
array_sort(array_distinct(collect_list({{ expr }})))
{%- endmacro %}


{#- Lists of text: the type (DuckDB varchar[], Spark array<string>), the empty list of that type, and a list with
    each element mapped (DuckDB list_transform with a lambda, Spark transform). -#}
{% macro text_list_type() -%}
    {{- return(adapter.dispatch('text_list_type', 'bullseye')()) -}}
{%- endmacro %}

{% macro default__text_list_type() -%}
varchar[]
{%- endmacro %}

{% macro spark__text_list_type() -%}
array<string>
{%- endmacro %}

{% macro empty_text_list() -%}
    {{- return(adapter.dispatch('empty_text_list', 'bullseye')()) -}}
{%- endmacro %}

{% macro default__empty_text_list() -%}
[]::varchar[]
{%- endmacro %}

{% macro spark__empty_text_list() -%}
cast(array() as array<string>)
{%- endmacro %}

{% macro transform_list(expr, var, body) -%}
    {{- return(adapter.dispatch('transform_list', 'bullseye')(expr, var, body)) -}}
{%- endmacro %}

{% macro default__transform_list(expr, var, body) -%}
list_transform({{ expr }}, lambda {{ var }}: {{ body }})
{%- endmacro %}

{% macro spark__transform_list(expr, var, body) -%}
transform({{ expr }}, {{ var }} -> {{ body }})
{%- endmacro %}


{#- The median of a DECIMAL with `scale` places, as DuckDB computes it: the midpoint of the two middle values
    truncated to the scale (median of 10.01 and 10.02 is 10.01). Spark's median is a DOUBLE (10.015): here
    the median of the whole units of the last place (an exact .5 in a double), truncated as DuckDB's cast of
    the interpolation is, then back to the scale. -#}
{% macro median_decimal(expr, scale=2) -%}
    {{- return(adapter.dispatch('median_decimal', 'bullseye')(expr, scale)) -}}
{%- endmacro %}

{% macro default__median_decimal(expr, scale) -%}
median({{ expr }})
{%- endmacro %}

{% macro spark__median_decimal(expr, scale) -%}
cast(cast(cast(median(cast({{ expr }} * {{ 10 ** scale }} as bigint)) as bigint) as decimal(38, 0))
     / {{ 10 ** scale }} as decimal(38, {{ scale }}))
{%- endmacro %}


{#- a / b as a DOUBLE: DuckDB's division of DECIMALs is a DOUBLE division already; Spark's is a DECIMAL one
    (rounded to its scale), so both sides are cast to DOUBLE first, as DuckDB does. The operands are pasted as they are on DuckDB:
    parenthesize a compound one ('(a - b)'), or a / b binds to its last term. -#}
{% macro divide_as_double(a, b) -%}
    {{- return(adapter.dispatch('divide_as_double', 'bullseye')(a, b)) -}}
{%- endmacro %}

{% macro default__divide_as_double(a, b) -%}
{{ a }} / {{ b }}
{%- endmacro %}

{% macro spark__divide_as_double(a, b) -%}
cast({{ a }} as double) / cast({{ b }} as double)
{%- endmacro %}


{#- The mean of a DECIMAL with `scale` places as a DOUBLE, as DuckDB's avg computes it: the exact sum in units of
    the last place divided by count x 10^scale, one division. Spark's avg of a DECIMAL is a DECIMAL rounded to
    scale + 4 places (1/3 of 1.0 is 0.33333): here the exact DECIMAL sum, scaled to whole units, is divided as
    a DOUBLE. -#}
{% macro avg_decimal_as_double(expr, scale, where=none) -%}
    {{- return(adapter.dispatch('avg_decimal_as_double', 'bullseye')(expr, scale, where)) -}}
{%- endmacro %}

{#- where: the aggregate's FILTER (WHERE ..), optional -#}
{% macro default__avg_decimal_as_double(expr, scale, where=none) -%}
avg({{ expr }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{% macro spark__avg_decimal_as_double(expr, scale, where=none) -%}
    {%- set f = ' filter (where ' ~ where ~ ')' if where else '' -%}
(cast(sum({{ expr }}){{ f }} * {{ 10 ** scale }} as double) / (count({{ expr }}){{ f }} * {{ 10 ** scale }}))
{%- endmacro %}


{#- A DOUBLE rounded to `places` decimals as DuckDB rounds it: by the exact binary value, halves away from zero
    (0.71275 is 0.712749999.. as a double: 0.7127). Spark's round goes through the shortest decimal text of the
    double (0.71275: 0.7128), so here x * 10^places is split into its double p and the exact error of that
    product (Dekker's split: 10^places has at most 14 bits for places <= 4, so both partial products are
    exact); only when p is exactly n + 0.5 does the error's sign decide. -#}
{% macro round_double(expr, places) -%}
    {{- return(adapter.dispatch('round_double', 'bullseye')(expr, places)) -}}
{%- endmacro %}

{% macro default__round_double(expr, places) -%}
round({{ expr }}, {{ places }})
{%- endmacro %}

{% macro spark__round_double(expr, places) -%}
    {%- if places > 4 -%}{{ exceptions.raise_compiler_error("round_double: at most 4 places on Spark") }}{%- endif -%}
    {%- set scale = (10 ** places) ~ 'D' -%}
    {%- set hi = '(abs(v) * 134217729D - (abs(v) * 134217729D - abs(v)))' -%}
element_at(transform(array(cast({{ expr }} as double)), v ->
    case when v is null then null
         when isnan(v) or abs(v) = double('Infinity') then v
         else signum(v) * element_at(transform(array(abs(v) * {{ scale }}), p ->
             (floor(p) + case when p - floor(p) > 0.5D then 1
                              when p - floor(p) < 0.5D then 0
                              when ({{ hi }} * {{ scale }} - p) + (abs(v) - {{ hi }}) * {{ scale }} >= 0 then 1
                              else 0 end) / {{ scale }}), 1)
    end), 1)
{%- endmacro %}


{#- Third slice (the models downstream of the Python models). -#}

{#- Year boundaries from start to stop, a BIGINT (DuckDB datediff('year', start, stop) counts the boundaries
    crossed: 2025-12-31 to 2026-01-01 is 1; Spark's timestampdiff(YEAR, ..) counts whole years): the difference of
    the years on Spark. -#}
{% macro years_between(start, stop) -%}
    {{- return(adapter.dispatch('years_between', 'bullseye')(start, stop)) -}}
{%- endmacro %}

{% macro default__years_between(start, stop) -%}
datediff('year', {{ start }}, {{ stop }})
{%- endmacro %}

{% macro spark__years_between(start, stop) -%}
cast(year({{ stop }}) - year({{ start }}) as bigint)
{%- endmacro %}


{#- The sum and the mean of a list of DOUBLEs added one by one in the list's order (DuckDB list_sum and list_avg
    of a list from ordered_list: a fixed order, so the last digits do not depend on threads). NULL elements are
    left out; NULL for a NULL list or one without a non-NULL element. Spark: aggregate over the filtered list,
    starting from the first element (0 + x is x). -#}
{% macro list_sum_double(list_expr) -%}
    {{- return(adapter.dispatch('list_sum_double', 'bullseye')(list_expr)) -}}
{%- endmacro %}

{% macro default__list_sum_double(list_expr) -%}
list_sum({{ list_expr }})
{%- endmacro %}

{% macro spark__list_sum_double(list_expr) -%}
aggregate(filter({{ list_expr }}, x -> x is not null), cast(null as double), (a, x) -> coalesce(a, 0D) + x)
{%- endmacro %}

{% macro list_avg_double(list_expr) -%}
    {{- return(adapter.dispatch('list_avg_double', 'bullseye')(list_expr)) -}}
{%- endmacro %}

{% macro default__list_avg_double(list_expr) -%}
list_avg({{ list_expr }})
{%- endmacro %}

{% macro spark__list_avg_double(list_expr) -%}
element_at(transform(array(filter({{ list_expr }}, x -> x is not null)), l ->
    aggregate(l, cast(null as double), (a, x) -> coalesce(a, 0D) + x) / size(l)), 1)
{%- endmacro %}


{#- The continuous quantile q of a DECIMAL with `scale` places, as DuckDB's quantile_cont computes it (a DECIMAL
    of the same scale): in whole units of the last place, lo + floor(d * (hi - lo)), lo and hi the values at
    floor and ceil of (n - 1) * q in ascending order, d its fraction (checked against DuckDB on 3,000 random
    sets, negatives included). Spark's percentile is a DOUBLE interpolated the other way round. NULLs are
    left out; NULL without a value. -#}
{% macro quantile_cont_decimal(expr, q, scale=2) -%}
    {{- return(adapter.dispatch('quantile_cont_decimal', 'bullseye')(expr, q, scale)) -}}
{%- endmacro %}

{% macro default__quantile_cont_decimal(expr, q, scale) -%}
quantile_cont({{ expr }}, {{ q }})
{%- endmacro %}

{% macro spark__quantile_cont_decimal(expr, q, scale) -%}
element_at(transform(array(sort_array(collect_list(cast({{ expr }} * {{ 10 ** scale }} as bigint)))), s ->
    case when size(s) > 0 then element_at(transform(array(cast(size(s) - 1 as double) * {{ q }}D), p ->
        cast(cast(element_at(s, cast(floor(p) as int) + 1)
                  + floor((p - floor(p)) * (element_at(s, cast(ceil(p) as int) + 1)
                                            - element_at(s, cast(floor(p) as int) + 1))) as decimal(38, 0))
             / {{ 10 ** scale }} as decimal(38, {{ scale }}))), 1)
    end), 1)
{%- endmacro %}


{#- Whether a list holds a value (DuckDB list_contains, Spark array_contains). A NULL value gives NULL on both; a
    list with NULL elements and no match gives false on DuckDB and NULL on Spark: coalesce where that matters. -#}
{% macro list_has(list_expr, value) -%}
    {{- return(adapter.dispatch('list_has', 'bullseye')(list_expr, value)) -}}
{%- endmacro %}

{% macro default__list_has(list_expr, value) -%}
list_contains({{ list_expr }}, {{ value }})
{%- endmacro %}

{% macro spark__list_has(list_expr, value) -%}
array_contains({{ list_expr }}, {{ value }})
{%- endmacro %}


{#- The distinct non-NULL values of a group sorted and joined by `sep`, NULL without a value (DuckDB
    string_agg(distinct x, sep order by x); Spark: the sorted set joined). -#}
{% macro sorted_distinct_string_agg(expr, sep) -%}
    {{- return(adapter.dispatch('sorted_distinct_string_agg', 'bullseye')(expr, sep)) -}}
{%- endmacro %}

{% macro default__sorted_distinct_string_agg(expr, sep) -%}
string_agg(distinct {{ expr }}, '{{ sep }}' order by {{ expr }})
{%- endmacro %}

{% macro spark__sorted_distinct_string_agg(expr, sep) -%}
case when size(collect_set({{ expr }})) > 0 then array_join(array_sort(collect_set({{ expr }})), '{{ sep }}') end
{%- endmacro %}


{#- A date's month and day as text MMDD (DuckDB strftime(d, '%m%d'), Spark date_format(d, 'MMdd')). -#}
{% macro month_day_text(expr) -%}
    {{- return(adapter.dispatch('month_day_text', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__month_day_text(expr) -%}
strftime({{ expr }}, '%m%d')
{%- endmacro %}

{% macro spark__month_day_text(expr) -%}
date_format({{ expr }}, 'MMdd')
{%- endmacro %}


{#- Every match of a regular expression replaced (DuckDB regexp_replace(.., 'g'); Spark replaces every match
    without a flag, and reads a backslash in a string literal as an escape: doubled here). The pattern is
    given as DuckDB's literal text. -#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{- return(adapter.dispatch('regexp_replace_all', 'bullseye')(expr, pattern, replacement)) -}}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
regexp_replace({{ expr }}, '{{ pattern | replace("\\", "\\\\") }}', '{{ replacement }}')
{%- endmacro %}


{#- The values of a then b without repeats, in the order of their first occurrence (int_activation__audience's
    interest_categories: bought, then browsed only). Spark's array_distinct keeps that order; DuckDB's
    list_distinct does not (its hash table's order: ['b','a','c','a'] gave ['c','a','b'] on duckdb 2.0.1), so on
    DuckDB a value is kept where its first position is its own. NULL values are dropped on DuckDB (as
    list_distinct did) and kept once on Spark; the lists passed here hold no NULLs. -#}
{% macro distinct_concat(a, b) -%}
    {{- return(adapter.dispatch('distinct_concat', 'bullseye')(a, b)) -}}
{%- endmacro %}

{% macro default__distinct_concat(a, b) -%}
list_filter(list_concat({{ a }}, {{ b }}),
            lambda _bz_v, _bz_i: list_position(list_concat({{ a }}, {{ b }}), _bz_v) = _bz_i)
{%- endmacro %}

{% macro spark__distinct_concat(a, b) -%}
array_distinct(concat({{ a }}, {{ b }}))
{%- endmacro %}


{#- A date plus n days (DuckDB d + to_days(n), a TIMESTAMP; Spark date_add, a DATE: compare or cast to date).
    Spark's date_add takes an INT (a BIGINT setting is cast). -#}
{% macro add_days(expr, n) -%}
    {{- return(adapter.dispatch('add_days', 'bullseye')(expr, n)) -}}
{%- endmacro %}

{% macro default__add_days(expr, n) -%}
{{ expr }} + to_days({{ n }})
{%- endmacro %}

{% macro spark__add_days(expr, n) -%}
date_add({{ expr }}, cast({{ n }} as int))
{%- endmacro %}


{#- A date plus n years, 29 February on 28 February in a year without it (DuckDB d + to_years(n), a TIMESTAMP;
    Spark add_months(d, 12 n), a DATE: cast to date). -#}
{% macro add_years(expr, n) -%}
    {{- return(adapter.dispatch('add_years', 'bullseye')(expr, n)) -}}
{%- endmacro %}

{% macro default__add_years(expr, n) -%}
{{ expr }} + to_years({{ n }})
{%- endmacro %}

{% macro spark__add_years(expr, n) -%}
add_months({{ expr }}, 12 * ({{ n }}))
{%- endmacro %}


{#- A struct of named fields, given as a list of (name, expr) pairs (DuckDB struct_pack(name := expr, ..),
    Spark named_struct('name', expr, ..)); fields are read as s.name on both. -#}
{% macro struct_of(fields) -%}
    {{- return(adapter.dispatch('struct_of', 'bullseye')(fields)) -}}
{%- endmacro %}

{% macro default__struct_of(fields) -%}
struct_pack({% for name, expr in fields %}{{ name }} := {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro spark__struct_of(fields) -%}
named_struct({% for name, expr in fields %}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}


{#- A text split at a one-character separator into a list (DuckDB string_split; Spark's split takes a regular
    expression: the separator in a character class; limit -1 keeps trailing empty strings, as DuckDB does). -#}
{% macro split_text(expr, sep) -%}
    {{- return(adapter.dispatch('split_text', 'bullseye')(expr, sep)) -}}
{%- endmacro %}

{% macro default__split_text(expr, sep) -%}
string_split({{ expr }}, '{{ sep }}')
{%- endmacro %}

{% macro spark__split_text(expr, sep) -%}
split({{ expr }}, '[{{ sep }}]', -1)
{%- endmacro %}


{#- The columns of a model's table, in their order, as the adapter lists them at run time: from the built table
    itself, found through the graph; in a unit test, where ref() names the fixture (which has the table's columns)
    and the graph is not there, in the project's schemas (intermediate, marts, staging) by the model's name. -#}
{% macro _model_columns(model_name) -%}
    {%- set node = (graph.get('nodes') or {}).get('model.bullseye.' ~ model_name) -%}
    {%- set found = namespace(rel=none) -%}
    {%- if node -%}
        {%- set found.rel = adapter.get_relation(database=node.database, schema=node.schema,
                                                 identifier=node.alias or node.name) -%}
    {%- else -%}
        {%- for schema in ['intermediate', 'marts', 'staging'] if found.rel is none -%}
            {%- set found.rel = adapter.get_relation(database=none, schema=schema, identifier=model_name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if found.rel is none -%}
        {{ exceptions.raise_compiler_error("no table of the model " ~ model_name ~ " to read the columns of") }}
    {%- endif -%}
    {{- return(adapter.get_columns_in_relation(found.rel)) -}}
{%- endmacro %}

{#- Every column of a model (ref'd as `alias`) but the ones named (DuckDB alias.* exclude (..); Spark has no
    * EXCLUDE: the model's columns in their order, at run time). -#}
{% macro star_exclude(model_name, alias, excluded) -%}
    {{- return(adapter.dispatch('star_exclude', 'bullseye')(model_name, alias, excluded)) -}}
{%- endmacro %}

{% macro default__star_exclude(model_name, alias, excluded) -%}
{{ alias }}.* exclude ({{ excluded | join(', ') }})
{%- endmacro %}

{% macro spark__star_exclude(model_name, alias, excluded) -%}
    {%- if not execute -%}{{ alias }}.*{%- else -%}
    {%- set names = [] -%}
    {%- for c in _model_columns(model_name) if c.name | lower not in excluded | map('lower') | list -%}
        {%- do names.append(alias ~ '.' ~ c.name) -%}
    {%- endfor -%}
{{ names | join(', ') }}
    {%- endif -%}
{%- endmacro %}


{#- A DOUBLE in the money type as DuckDB casts it: x * 100 as a double, rounded half away from zero (1.005 is
    1.00499999.. as a double and x * 100 is 100.49999999999999: 1.00; 2.675 * 100 is 267.5 exactly: 2.68).
    Spark's cast of a DOUBLE to DECIMAL rounds the double's shortest decimal text HALF_UP (1.005: 1.01); its
    round(p, 0) of the product p rounds as DuckDB does (the text of p lies on the same side of n + 0.5 as p). -#}
{% macro double_to_money(expr) -%}
    {{- return(adapter.dispatch('double_to_money', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__double_to_money(expr) -%}
{{ money(expr) }}
{%- endmacro %}

{% macro spark__double_to_money(expr) -%}
cast(cast(round(cast({{ expr }} as double) * 100D, 0) as decimal(38, 0)) / 100 as {{ money_type() }})
{%- endmacro %}


{#- A date minus n days (DuckDB d - to_days(n), a TIMESTAMP; Spark date_sub, a DATE). -#}
{% macro sub_days(expr, n) -%}
    {{- return(adapter.dispatch('sub_days', 'bullseye')(expr, n)) -}}
{%- endmacro %}

{% macro default__sub_days(expr, n) -%}
{{ expr }} - to_days({{ n }})
{%- endmacro %}

{% macro spark__sub_days(expr, n) -%}
date_sub({{ expr }}, cast({{ n }} as int))
{%- endmacro %}


{#- Every column of a model (ref'd as `alias`), some replaced in place by expressions (DuckDB
    alias.* replace (expr as name, ..); Spark has no * REPLACE: the model's columns at run time, in their
    order). replacements: a list of (name, expr) pairs. -#}
{% macro star_replace(model_name, alias, replacements) -%}
    {{- return(adapter.dispatch('star_replace', 'bullseye')(model_name, alias, replacements)) -}}
{%- endmacro %}

{% macro default__star_replace(model_name, alias, replacements) -%}
{{ alias }}.* replace ({% for name, expr in replacements %}{{ expr }} as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro spark__star_replace(model_name, alias, replacements) -%}
    {%- if not execute -%}{{ alias }}.*{%- else -%}
    {%- set by_name = {} -%}
    {%- for name, expr in replacements -%}{%- do by_name.update({name | lower: expr}) -%}{%- endfor -%}
    {%- set items = [] -%}
    {%- for c in _model_columns(model_name) -%}
        {%- if c.name | lower in by_name -%}{%- do items.append(by_name[c.name | lower] ~ ' as ' ~ c.name) -%}
        {%- else -%}{%- do items.append(alias ~ '.' ~ c.name) -%}{%- endif -%}
    {%- endfor -%}
{{ items | join(', ') }}
    {%- endif -%}
{%- endmacro %}


{#- The values of a group joined by `sep` in the given order (DuckDB string_agg(x, sep order by ..), Spark's
    WITHIN GROUP form); write NULLS LAST on ascending keys that can be NULL. -#}
{% macro ordered_string_agg(expr, sep, order_by) -%}
    {{- return(adapter.dispatch('ordered_string_agg', 'bullseye')(expr, sep, order_by)) -}}
{%- endmacro %}

{% macro default__ordered_string_agg(expr, sep, order_by) -%}
string_agg({{ expr }}, '{{ sep }}' order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expr, sep, order_by) -%}
string_agg({{ expr }}, '{{ sep }}') within group (order by {{ order_by }})
{%- endmacro %}


{#- DuckDB's hash() of a text, a UBIGINT (Spark's hash() is Murmur3, 32 bits, another function): on Spark the
    bz_duckdb_hash UDF (bullseye.spark.DUCKDB_FUNCTIONS, DuckDB's own function) as a DECIMAL(20, 0), so that
    hash(x) % n draws the same sample on both engines. -#}
{% macro duckdb_hash(expr) -%}
    {{- return(adapter.dispatch('duckdb_hash', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__duckdb_hash(expr) -%}
hash({{ expr }})
{%- endmacro %}

{% macro spark__duckdb_hash(expr) -%}
cast(bz_duckdb_hash({{ expr }}) as decimal(20, 0))
{%- endmacro %}


{#- One row per element of a list of texts, named `alias` (DuckDB unnest([..]) , Spark explode(array(..))). -#}
{% macro unnest_texts(values, alias) -%}
    {{- return(adapter.dispatch('unnest_texts', 'bullseye')(values, alias)) -}}
{%- endmacro %}

{% macro default__unnest_texts(values, alias) -%}
unnest([{% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %}]) as {{ alias }}
{%- endmacro %}

{% macro spark__unnest_texts(values, alias) -%}
explode(array({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})) as {{ alias }}
{%- endmacro %}


{#- The natural logarithm as DuckDB computes it, to the last bit: on Spark the bz_duckdb_ln UDF (DuckDB's own ln,
    bullseye.spark.DUCKDB_FUNCTIONS; the JVM's ln differs by one unit in the last place on some values). -#}
{% macro duckdb_ln(expr) -%}
    {{- return(adapter.dispatch('duckdb_ln', 'bullseye')(expr)) -}}
{%- endmacro %}

{% macro default__duckdb_ln(expr) -%}
ln({{ expr }})
{%- endmacro %}

{% macro spark__duckdb_ln(expr) -%}
cast(bz_duckdb_ln(cast({{ expr }} as string)) as double)
{%- endmacro %}
