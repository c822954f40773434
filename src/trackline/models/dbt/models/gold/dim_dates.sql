-- One row per day from the first to the last day any fact or listening event falls on.
with days as (
    select event_date as d from {{ ref('silver_carts') }}
    union all select event_date from {{ ref('silver_orders') }}
    union all select event_date from {{ ref('silver_inventory') }}
    union all select event_date from {{ ref('silver_user_activity') }}
    union all select event_date from {{ ref('silver_listening_activity') }}
),
bounds as (select min(d) as lo, max(d) as hi from days),
spine as ({{ days_between('bounds') }})
select
    {{ date_key('date_day') }} as date_key,
    date_day,
    extract(year from date_day) as year,
    extract(month from date_day) as month,
    extract(day from date_day) as day_of_month,
    extract(dayofweek from date_day) as day_of_week,
    extract(dayofweek from date_day) in (0, 6) as is_weekend
from spine
