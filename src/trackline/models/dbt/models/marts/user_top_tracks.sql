-- Every track a user played, ranked by plays (then minutes, then id: a stable order). A listen
-- under `min_play_ms` is not a play (`silver_listening_activity`): it is counted apart as a
-- short listen, and a track only ever listened to briefly is not here. `skips` marks skips.
with per_track as (
    select
        user_id,
        track_id,
        max(track_name) as track_name,
        max(artist_name) as artist_name,
        sum(case when is_play then 1 else 0 end) as plays,
        sum(minutes) as minutes,
        sum(case when not is_play and origin = 'listens' then 1 else 0 end) as short_listens,
        sum(case when skipped then 1 else 0 end) as skips,
        max(case when is_play then occurred_at end) as last_played_at
    from {{ ref('silver_listening_activity') }}
    group by user_id, track_id
    having sum(case when is_play then 1 else 0 end) > 0
)
select
    *,
    row_number() over (
        partition by user_id order by plays desc, minutes desc, track_id
    ) as track_rank
from per_track
