-- One row per shopper action, partitioned by day, clustered by activity type.
{{ config(partition_by=bq_partition('occurred_at'), cluster_by=bq_cluster(['activity_type'])) }}
select
    event_id,
    user_id,
    session_id,
    activity_type,
    page,
    product_id,
    search_query,
    device,
    country,
    duration_seconds,
    "timestamp" as occurred_at,
    {{ date_key('event_date') }} as date_key
from {{ ref('silver_user_activity') }}
