-- carts: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='carts') }}
{{ silver('carts', ['cart_id', 'product_id'], '"date"') }}
