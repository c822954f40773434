-- user_activity: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='user_activity') }}
{{ silver('user_activity', ['event_id'], '"timestamp"') }}
