-- listens: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='listens') }}
{{ silver('listens', ['user_id', 'played_at', 'track_id'], 'played_at') }}
