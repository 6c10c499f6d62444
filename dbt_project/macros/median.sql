{#- The median of `value` in each group of `keys`: one row per group with a non-NULL value, the keys and
    `alias`. The same answer as `select keys, median(value) ... group by keys` (the middle value, or the mean
    of the two middle ones, as a DOUBLE; NULLs left out), for when the groups are many.
    Why not median(): DuckDB keeps a buffer per group for it, and with a group per customer (two million at
    scale 100) its spill grew past 28 GB and stopped the night (issue 18). Ranking within each group is a
    sort, which DuckDB spills in bounded pieces: the same model then ran in about 20 s without spilling.
    Plain SQL, the same on Spark. A rank r of n is a middle one when 2r is n, n + 1 or n + 2 (the one middle
    value when n is odd, the two when it is even). -#}
{% macro median_per_group(from, keys, value, alias, where=none) -%}
{%- set by = keys | join(', ') -%}
select {{ by }}, avg(_bz_value) as {{ alias }}
from (
    select {{ by }}, {{ value }} as _bz_value,
        row_number() over (partition by {{ by }} order by {{ value }}) as _bz_rank,
        count(*) over (partition by {{ by }}) as _bz_count
    from {{ from }}
    where {{ value }} is not null{% if where %} and ({{ where }}){% endif %}
) ranked
where 2 * _bz_rank between _bz_count and _bz_count + 2
group by {{ by }}
{%- endmacro %}
