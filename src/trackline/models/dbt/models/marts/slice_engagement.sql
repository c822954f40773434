-- Engagement per genre and per country: who listens, how much, and each value's share of all
-- plays, so a skew toward a few genres or countries is visible.
with activity as (
    select
        user_id, is_play, minutes,
        coalesce(genre, 'unknown') as genre,
        coalesce(country, 'unknown') as country
    from {{ ref('silver_listening_activity') }}
),
sliced as (
    select 'genre' as slice_name, genre as slice_value, user_id, is_play, minutes from activity
    union all
    select 'country', country, user_id, is_play, minutes from activity
),
totals as (
    select slice_name, sum(case when is_play then 1 else 0 end) as all_plays
    from sliced group by slice_name
)
select
    s.slice_name,
    s.slice_value,
    count(distinct s.user_id) as listeners,
    count(*) as total_events,
    sum(case when s.is_play then 1 else 0 end) as plays,
    sum(s.minutes) as minutes,
    sum(case when s.is_play then 1 else 0 end) * 1.0 / nullif(max(t.all_plays), 0) as play_share
from sliced s
join totals t on t.slice_name = s.slice_name
group by s.slice_name, s.slice_value
