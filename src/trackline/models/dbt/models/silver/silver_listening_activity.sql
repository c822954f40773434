-- Every listening event in one shape: plays from `listens` (Spotify history, exports) and the
-- app's `listening_events`. Only `listens` carries time played, so minutes come from it alone.
-- `is_play` marks what counts as a play: a listen of at least `min_play_ms` (var, from the
-- setting; Spotify's 30 s rule) or of unknown length (the API's rows), or an app `play` event.
-- Shorter listens are kept with is_play false; `skipped` marks skips (the export's flag, or an
-- app `skip` event) whether or not they count as plays. One play is one row by the second:
-- rows loaded under listens v1 kept the API's milliseconds, v2 stores the second, so the same
-- play fetched from the API before an upgrade and imported from an export after is one play.
{{ config(alias='listening_activity', materialized='table', unique_key=none) }}
with listens as (
    select *
    from {{ ref('silver_listens') }}
    where true
    qualify row_number() over (
        partition by user_id, {{ to_second('played_at') }}, track_id
        order by ingestion_time, record_key
    ) = 1
)
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
    coalesce(ms_played >= {{ var('min_play_ms') }}, true) as is_play,
    coalesce(skipped, false) as skipped,
    ms_played,
    coalesce(minutes_played, 0) as minutes
from listens
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
    event_type = 'skip',
    cast(null as {{ dbt.type_bigint() }}),
    0
from {{ ref('silver_listening_events') }}
