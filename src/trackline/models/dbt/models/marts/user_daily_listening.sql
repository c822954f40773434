-- Per user and UTC day: every listening event, distinct songs, and minutes played.
{{ config(partition_by=bq_partition('listen_date'), cluster_by=bq_cluster(['user_id'])) }}
select
    user_id,
    event_date as listen_date,
    {{ date_key('event_date') }} as date_key,
    count(*) as total_events,
    sum(case when is_play then 1 else 0 end) as plays,
    count(distinct track_id) as unique_songs,
    sum(minutes) as minutes
from {{ ref('silver_listening_activity') }}
group by user_id, event_date
