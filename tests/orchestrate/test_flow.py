"""The flow's steps as the orchestrators call them: ingest from the spool, the quality gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.orchestrate.conftest import GROUP, Club
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.orchestrate import flow
from trackline.sources.spool import Batch, pending


def listen(user: str, n: int, *, valid: bool = True) -> dict[str, Any]:
    played = datetime.now(UTC) - timedelta(hours=1, minutes=n)
    return {
        "user_id": user if valid else None,  # required: a missing user is a rejected row
        "played_at": played.isoformat(),
        "track_id": f"t{n}",
        "track_name": f"Track {n}",
        "ms_played": 1000,
        "duration_ms": 2000,
        "source": "spotify_api",
    }


def spool(settings: Settings, user: str, rows: list[dict[str, Any]]) -> Batch:
    batch = Batch.create(settings, "spotify", user)
    batch.write("listens", rows)
    batch.seal()
    return batch


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


def test_ingest_loads_the_fetched_members_in_one_run_and_leaves_the_others_spooled(
    settings: Settings,
) -> None:
    spool(settings, "ana", [listen("ana", i) for i in range(6)])
    spool(settings, "ben", [listen("ben", i) for i in range(4)] + [listen("ben", 9, valid=False)])
    spool(settings, "cy", [listen("cy", i) for i in range(3)])  # cy's fetch "failed"
    fetched = [{"provider": "spotify", "user_id": u} for u in ("ana", "ben")]
    runs = flow.ingest(settings, fetched)
    assert set(runs) == {"listens"}
    r = runs["listens"]
    assert (r["input"], r["valid"], r["rejected"], r["duplicates"]) == (11, 10, 1, 0)
    users = warehouse_rows(settings, "SELECT user_id, count(*) FROM listens GROUP BY 1 ORDER BY 1")
    assert users == [("ana", 6), ("ben", 4)]
    [left] = pending(settings)
    assert left.user_id == "cy"  # loaded once cy's fetch succeeds, or by `spool flush`
    assert flow.ingest(settings, fetched) == {}  # nothing spooled twice


def test_quality_gate_fails_past_the_threshold_and_names_the_dataset(settings: Settings) -> None:
    rows = [listen("ana", i) for i in range(7)] + [listen("ana", i, valid=False) for i in range(3)]
    spool(settings, "ana", rows)
    runs = flow.ingest(settings, [{"provider": "spotify", "user_id": "ana"}])
    passed = flow.quality_gate(settings, runs, threshold=0.5)
    assert passed["listens"]["rejected_share"] == pytest.approx(0.3)
    assert passed["listens"]["run_id"] == runs["listens"]["run_id"]
    with pytest.raises(flow.QualityGateError, match=r"listens rejected 3 of 10 rows \(30.0%"):
        flow.quality_gate(settings, runs, threshold=0.2)
    strict = settings.model_copy(update={"quality_max_rejected_share": 0.25})
    with pytest.raises(flow.QualityGateError, match="trackline report"):
        flow.quality_gate(strict, runs)  # the threshold from config
    lenient = settings.model_copy(update={"quality_max_rejected_share": 0.3})
    assert flow.quality_gate(lenient, runs)["listens"]["rejected"] == 3  # at the limit passes


def test_a_refused_token_is_permanent_an_outage_is_not(club: Club) -> None:
    ok = flow.fetch(club.settings, "spotify", "ana")
    assert ok["status"] == "ok" and ok["fetched"]["listens"] == 40
    with pytest.raises(flow.StepFailed) as refused:
        flow.fetch(club.settings, "spotify", "cy")  # revoked: invalid_grant
    assert refused.value.permanent and "needs_reauth" in str(refused.value)
    club.fake.faults.script("/spotify-accounts/api/token", ["500", "500"])
    with pytest.raises(flow.StepFailed) as outage:
        flow.fetch(club.settings, "spotify", "ben")
    assert not outage.value.permanent  # a retry may work: the orchestrator retries it


def test_plan_names_each_active_member_and_provider(club: Club) -> None:
    from trackline.state import open_state

    store = open_state(club.settings)
    try:
        store.set_active("cy", False)
    finally:
        store.close()
    plan = flow.plan_fetches(club.settings, GROUP)
    assert plan == [
        {"provider": "spotify", "user_id": "ana"},
        {"provider": "spotify", "user_id": "ben"},
        {"provider": "youtube", "user_id": "ben"},
    ]
