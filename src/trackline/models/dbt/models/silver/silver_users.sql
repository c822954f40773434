-- users: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='users') }}
{{ silver('users', ['id'], 'fetched_at') }}
