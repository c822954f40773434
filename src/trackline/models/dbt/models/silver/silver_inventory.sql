-- inventory: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='inventory') }}
{{ silver('inventory', ['event_id'], '"timestamp"') }}
