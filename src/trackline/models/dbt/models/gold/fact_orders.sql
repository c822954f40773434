-- One row per order event (created, paid, shipped...), partitioned by day, clustered by status.
{{ config(partition_by=bq_partition('order_date'), cluster_by=bq_cluster(['status'])) }}
select
    event_id,
    order_id,
    customer_id,
    status,
    order_date,
    {{ date_key('event_date') }} as date_key,
    items_count,
    total_amount,
    coalesce(discount_amount, 0) as discount_amount,
    net_amount,
    currency,
    payment_method,
    country
from {{ ref('silver_orders') }}
