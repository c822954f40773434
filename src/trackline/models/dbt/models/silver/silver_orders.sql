-- orders: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='orders') }}
{{ silver('orders', ['event_id'], 'order_date') }}
