-- listening_events: typed by its contract, one row per primary key, incremental with lookback.
{{ config(alias='listening_events') }}
{{ silver('listening_events', ['event_id'], '"timestamp"') }}
