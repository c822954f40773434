-- top_artists: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='top_artists') }}
{{ silver('top_artists', ['user_id', 'time_range', '"rank"', 'fetched_at'], 'fetched_at') }}
