-- feedback: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='feedback') }}
{{ silver('feedback', ['event_id'], '"timestamp"') }}
