-- For every named group, every pair of members: tracks and artists both played, and the
-- Jaccard similarity of their track and artist sets (shared / in either).
with members as (
    select distinct group_id, user_id from {{ source('meta', 'groups') }}
),
pairs as (
    select a.group_id, a.user_id as user_a, b.user_id as user_b
    from members a
    join members b on a.group_id = b.group_id and a.user_id < b.user_id
),
tracks as (select user_id, track_id from {{ ref('user_top_tracks') }}),
artists as (select user_id, artist_name from {{ ref('user_top_artists') }}),
track_counts as (select user_id, count(*) as n from tracks group by user_id),
artist_counts as (select user_id, count(*) as n from artists group by user_id),
shared_tracks as (
    select p.group_id, p.user_a, p.user_b, count(*) as n
    from pairs p
    join tracks ta on ta.user_id = p.user_a
    join tracks tb on tb.user_id = p.user_b and tb.track_id = ta.track_id
    group by p.group_id, p.user_a, p.user_b
),
shared_artists as (
    select p.group_id, p.user_a, p.user_b, count(*) as n
    from pairs p
    join artists aa on aa.user_id = p.user_a
    join artists ab on ab.user_id = p.user_b and ab.artist_name = aa.artist_name
    group by p.group_id, p.user_a, p.user_b
)
select
    p.group_id,
    p.user_a,
    p.user_b,
    coalesce(st.n, 0) as shared_tracks,
    coalesce(sa.n, 0) as shared_artists,
    coalesce(st.n, 0) * 1.0
        / nullif(coalesce(ca.n, 0) + coalesce(cb.n, 0) - coalesce(st.n, 0), 0) as track_jaccard,
    coalesce(sa.n, 0) * 1.0
        / nullif(coalesce(aa.n, 0) + coalesce(ab.n, 0) - coalesce(sa.n, 0), 0) as artist_jaccard
from pairs p
left join shared_tracks st
    on st.group_id = p.group_id and st.user_a = p.user_a and st.user_b = p.user_b
left join shared_artists sa
    on sa.group_id = p.group_id and sa.user_a = p.user_a and sa.user_b = p.user_b
left join track_counts ca on ca.user_id = p.user_a
left join track_counts cb on cb.user_id = p.user_b
left join artist_counts aa on aa.user_id = p.user_a
left join artist_counts ab on ab.user_id = p.user_b
