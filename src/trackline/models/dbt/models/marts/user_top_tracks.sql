-- Every track a user played, ranked by plays (then minutes, then id: a stable order).
with per_track as (
    select
        user_id,
        track_id,
        max(track_name) as track_name,
        max(artist_name) as artist_name,
        count(*) as plays,
        sum(minutes) as minutes,
        max(occurred_at) as last_played_at
    from {{ ref('silver_listening_activity') }}
    where is_play
    group by user_id, track_id
)
select
    *,
    row_number() over (
        partition by user_id order by plays desc, minutes desc, track_id
    ) as track_rank
from per_track
