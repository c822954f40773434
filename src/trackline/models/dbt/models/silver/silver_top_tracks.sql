-- top_tracks: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='top_tracks') }}
{{ silver('top_tracks', ['user_id', 'time_range', '"rank"', 'fetched_at'], 'fetched_at') }}
