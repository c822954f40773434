-- Fake Store users (shoppers), plus inferred rows for users only seen in carts.
with known as (
    select id as user_id, username, firstname, lastname, city, false as is_inferred
    from {{ ref('silver_users') }}
),
inferred as (
    select distinct c.user_id
    from {{ ref('silver_carts') }} c
    left join known k on k.user_id = c.user_id
    where k.user_id is null
)
select * from known
union all
select
    user_id, cast(null as {{ text() }}), cast(null as {{ text() }}),
    cast(null as {{ text() }}), cast(null as {{ text() }}), true
from inferred
