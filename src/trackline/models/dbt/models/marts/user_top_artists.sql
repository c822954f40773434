-- Every artist a user played (by name: the one id both sources share), ranked by plays.
with per_artist as (
    select
        user_id,
        artist_name,
        count(*) as plays,
        count(distinct track_id) as unique_tracks,
        sum(minutes) as minutes
    from {{ ref('silver_listening_activity') }}
    where is_play and artist_name is not null
    group by user_id, artist_name
)
select
    *,
    row_number() over (
        partition by user_id order by plays desc, minutes desc, artist_name
    ) as artist_rank
from per_artist
