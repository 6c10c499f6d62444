{#- Incremental facts (issue 18): the largest staging models add only what changed since the last night.

    Such a model is `materialized=incremental_on_duckdb()` with a unique key and the delete+insert strategy.
    Its body selects every row up to the run date; under is_incremental() it keeps only the keys that
    changed (incremental_keys): keys with a row in a delivery loaded since the last build, or with a row
    dated in the days since it (a row dated after an earlier run date waits in raw for its night). For
    those keys the latest version is chosen again from all their rows in raw, as a full build would, so a
    correction delivered late (a refund, an order delivered three days late) replaces or joins its key.

    After each build a post-hook (record_watermark) writes what the build saw into the table's comment:
    the run date, the last delivery id of its source, and the code that made the rows (the model file's
    checksum and bz_rules_version(), the normalizers' fingerprint: bullseye.dbt_plugin). A later build is
    incremental only when that watermark is there and fits; otherwise dbt rebuilds the model in full
    (should_full_refresh below), exactly as `--full-refresh` does:
      * no watermark: a table from before incremental models, or written by other means;
      * the model's SQL or the normalizers changed since: old rows were computed by other code;
      * the run date is before the watermark's: a backfill on a copy of a warehouse built later, whose
        rows must not reach into nights after the backfill's.
    `dbt build --full-refresh` (bullseye run --full-refresh) rebuilds them all; it rebuilds models only:
    the protected history lives in declared state tables that no model writes (bullseye.history,
    bullseye.identity.state), and dbt snapshots ignore --full-refresh.

    On Spark (dbt-spark, parquet tables without delete) the models are plain tables. -#}

{% macro incremental_on_duckdb() -%}
    {{- return('incremental' if target.type == 'duckdb' else 'table') -}}
{%- endmacro %}


{#- dbt's own should_full_refresh, plus the watermark check above for this project's incremental models. -#}
{% macro should_full_refresh() -%}
    {%- set forced = config.get('full_refresh') -%}
    {%- if forced is none -%}
        {%- set forced = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if not forced and execute and this is not none and model is defined
           and model.config.materialized == 'incremental' and model.package_name == 'bullseye' -%}
        {%- do return(incremental_watermark() is none) -%}
    {%- endif -%}
    {%- do return(forced) -%}
{%- endmacro %}


{#- The watermark of this model's table when tonight's build may start from it, else none. -#}
{% macro incremental_watermark() -%}
    {%- set sql -%}
        select comment from duckdb_tables()
        where database_name = '{{ this.database }}' and schema_name = '{{ this.schema }}'
          and table_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- if rows | length == 0 or not rows[0][0] or not (rows[0][0] | string).startswith('{"bullseye_watermark"') -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set w = fromjson(rows[0][0])['bullseye_watermark'] -%}
    {%- if w['code'] != incremental_code() or w['as_of'] > as_of_value() | trim -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(w) -%}
{%- endmacro %}


{#- What made the rows: the model file's checksum and the normalizers' fingerprint. -#}
{% macro incremental_code() -%}
    {%- do return(model.checksum.checksum ~ ':' ~ run_query('select bz_rules_version()').rows[0][0]) -%}
{%- endmacro %}


{#- `and <key> in (the keys that changed since the watermark)`, under is_incremental(); else nothing.
    key: the key expression over the source's columns; ts: the row's date or time column. -#}
{% macro incremental_keys(key, source_relation, ts) -%}
    {#- a dbt unit test has no table to start from (this is none): it checks the full build's SQL -#}
    {%- if this is not none and is_incremental() -%}
        {%- set w = incremental_watermark() %}
    and {{ key }} in (
        select {{ key }} from {{ source_relation }}
        where {{ ts }} < {{ as_of_end() }}
          and (_delivery_id > {{ w['delivery'] }} or {{ ts }} >= DATE '{{ w['as_of'] }}' + INTERVAL 1 DAY))
    {%- endif -%}
{%- endmacro %}


{#- `where _delivery_id > <the watermark's last delivery>` under is_incremental(), else nothing: for a model that
    keeps every delivered row (append), so a night adds the rows of the deliveries loaded since. -#}
{% macro incremental_deliveries() -%}
    {%- if this is not none and is_incremental() -%}
    where _delivery_id > {{ incremental_watermark()['delivery'] }}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: record the watermark of the build just made (see the top of this file). -#}
{% macro record_watermark(source_relation) -%}
    {%- if execute and model.config.materialized == 'incremental' -%}
        {%- set last = run_query('select coalesce(max(_delivery_id), -1) from ' ~ source_relation).rows[0][0] -%}
        {#- the table just built has no watermark yet when dbt rebuilt it in full (a new table); the run
            summary says why (bullseye.transform.incremental_notes) -#}
        {%- set built = 'full' if should_full_refresh() else 'incremental' -%}
        {%- set w = {'bullseye_watermark': {'as_of': as_of_value() | trim, 'delivery': last | int,
                                            'code': incremental_code(), 'built': built}} -%}
        comment on table {{ this }} is '{{ tojson(w) }}'
    {%- endif -%}
{%- endmacro %}
