-- One row per stock movement, partitioned by day, clustered by reason.
{{ config(partition_by=bq_partition('moved_at'), cluster_by=bq_cluster(['reason'])) }}
select
    event_id,
    product_id,
    warehouse_id,
    reason,
    quantity_change,
    quantity_after,
    unit_cost,
    movement_value,
    "timestamp" as moved_at,
    {{ date_key('event_date') }} as date_key
from {{ ref('silver_inventory') }}
