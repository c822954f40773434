{# Small dialect shims: the same models compile for DuckDB (local) and BigQuery. #}

{% macro utc_date(expr) -%}
  {%- if target.type == 'bigquery' -%}date({{ expr }})
  {%- else -%}cast(timezone('UTC', {{ expr }}) as date){%- endif -%}
{%- endmacro %}

{# A timestamp truncated to the whole second (listens v1 kept the API's milliseconds). #}
{% macro to_second(expr) -%}
  {%- if target.type == 'bigquery' -%}timestamp_trunc({{ expr }}, second)
  {%- else -%}date_trunc('second', {{ expr }}){%- endif -%}
{%- endmacro %}

{% macro date_key(expr) -%}
  {%- if target.type == 'bigquery' -%}cast(format_date('%Y%m%d', {{ expr }}) as int64)
  {%- else -%}cast(strftime({{ expr }}, '%Y%m%d') as integer){%- endif -%}
{%- endmacro %}

{% macro star_except() -%}
  {%- if target.type == 'bigquery' -%}except{%- else -%}exclude{%- endif -%}
{%- endmacro %}

{% macro text() -%}{{ dbt.type_string() }}{%- endmacro %}

{# One row per day between two dates (inclusive); none when the bounds are null. #}
{% macro days_between(relation_with_lo_hi) -%}
  {%- if target.type == 'bigquery' -%}
  select d as date_day from {{ relation_with_lo_hi }}, unnest(generate_date_array(lo, hi)) as d
  where lo is not null
  {%- else -%}
  select cast(unnest(generate_series(cast(lo as timestamp), cast(hi as timestamp),
         interval 1 day)) as date) as date_day
  from {{ relation_with_lo_hi }} where lo is not null
  {%- endif -%}
{%- endmacro %}

{# BigQuery partitioning and clustering (design.md 4); other targets ignore both. #}
{% macro bq_partition(field, granularity='day') -%}
  {%- if target.type == 'bigquery' -%}
  {{ return({'field': field, 'data_type': 'timestamp', 'granularity': granularity}) }}
  {%- else -%}{{ return(none) }}{%- endif -%}
{%- endmacro %}

{% macro bq_cluster(columns) -%}
  {%- if target.type == 'bigquery' -%}{{ return(columns) }}{%- else -%}{{ return(none) }}{%- endif -%}
{%- endmacro %}
