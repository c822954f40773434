-- Every listening event in one shape: plays from `listens` (Spotify history, exports) and the
-- app's `listening_events`. Only `listens` carries time played, so minutes come from it alone;
-- `is_play` marks what counts as a play (a listen, or an app `play` event).
{{ config(alias='listening_activity', materialized='table', unique_key=none) }}
select
    'listens:' || record_key as activity_key,
    'listens' as origin,
    user_id,
    track_id,
    track_name,
    artist_name,
    genre,
    country,
    played_at as occurred_at,
    event_date,
    'play' as event_type,
    true as is_play,
    coalesce(minutes_played, 0) as minutes
from {{ ref('silver_listens') }}
union all
select
    'listening_events:' || record_key,
    'listening_events',
    user_id,
    song_id,
    cast(null as {{ text() }}),
    artist_name,
    genre,
    country,
    "timestamp",
    event_date,
    event_type,
    event_type = 'play',
    0
from {{ ref('silver_listening_events') }}
