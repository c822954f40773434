-- playlist_tracks: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='playlist_tracks') }}
{{ silver('playlist_tracks', ['user_id', 'playlist_id', 'track_id'], 'fetched_at') }}
