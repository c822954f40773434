"""`trackline aggregate` turns a day of listening into per-key aggregates in the store."""

from __future__ import annotations

from datetime import timedelta

from tests.analytics.conftest import NOW, small_group  # noqa: F401  (fixture)
from trackline.config import Settings
from trackline.serving import open_store
from trackline.serving.aggregate import aggregate_day


def test_aggregates_match_the_day_and_are_served(small_group: Settings) -> None:  # noqa: F811
    # The hand-built plays are 1..11 hours before NOW; some may fall on the previous UTC day.
    days = {(NOW - timedelta(hours=h)).date() for h in range(1, 12)}
    totals = 0
    for day in sorted(days):
        summary = aggregate_day(small_group, day)
        assert summary["date"] == day.isoformat()
        with open_store(small_group.serving) as store:
            users = [store.get_daily_aggregates("user", u, day) for u in ("ana", "ben", "cai")]
            genre = store.get_daily_aggregates("genre", "pop", day)
        assert genre is not None
        assert genre["plays"] == sum(u["plays"] for u in users if u)
        totals += genre["plays"]
    assert totals == 11  # every hand-built play, each counted on exactly one day
    with open_store(small_group.serving) as store:
        assert store.get_daily_aggregates("user", "ana", NOW.date() + timedelta(days=5)) is None


def test_a_day_without_data_writes_nothing(small_group: Settings) -> None:  # noqa: F811
    summary = aggregate_day(small_group, (NOW - timedelta(days=400)).date())
    assert summary["written"] == 0
