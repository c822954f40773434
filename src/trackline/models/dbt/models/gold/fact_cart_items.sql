-- One row per cart line: the cart, its product and user, the day, quantity and value.
{{ config(partition_by=bq_partition('cart_date', 'month'), cluster_by=bq_cluster(['user_id'])) }}
select
    c.record_key as cart_item_key,
    c.cart_id,
    c.product_id,
    c.user_id,
    c."date" as cart_date,
    {{ date_key('c.event_date') }} as date_key,
    c.quantity,
    p.price as unit_price,
    c.quantity * p.price as line_amount
from {{ ref('silver_carts') }} c
left join {{ ref('dim_products') }} p on p.product_id = c.product_id
