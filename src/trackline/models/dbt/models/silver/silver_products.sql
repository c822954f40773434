-- products: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='products') }}
{{ silver('products', ['id'], 'fetched_at') }}
