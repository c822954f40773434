{#
  A silver model: the bronze table typed by its contract, one row per primary key (the latest
  ingestion wins), with a stable `record_key` and the UTC `event_date` of its event time.

  Incremental: only rows ingested since the newest ingestion already in silver, minus
  `lookback_hours`, are read again; delete+insert on `record_key` makes a re-read idempotent.
  Late events (old event time, new ingestion) are therefore always picked up.
#}
{% macro silver(source_table, key_columns, event_time) -%}
{%- set parts = [] -%}
{%- for k in key_columns -%}
  {%- do parts.append("coalesce(cast(" ~ k ~ " as " ~ text() ~ "), '')") -%}
  {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
{%- endfor -%}
{%- set key_expr = dbt.hash(dbt.concat(parts)) -%}
with src as (
    select * from {{ source('bronze', source_table) }}
    {% if is_incremental() %}
    where ingestion_time > (
        select coalesce(max(ingestion_time), cast('1970-01-01' as timestamp))
               - interval {{ var("lookback_hours") }} hour
        from {{ this }}
    )
    {% endif %}
),
ranked as (
    select
        *,
        {{ key_expr }} as record_key,
        {{ utc_date(event_time) }} as event_date,
        row_number() over (
            partition by {{ key_expr }} order by ingestion_time desc, run_id desc
        ) as _rank
    from src
)
select * {{ star_except() }} (_rank) from ranked where _rank = 1
{%- endmacro %}
