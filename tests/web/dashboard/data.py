"""A home with something on every dashboard page: two batch runs of `listening_events` (the
second with its genres shifted, rejected rows among them, two of them XSS attempts), a stream
run with its metrics, users, a group and a session with outcomes.

Used by the tests, `scripts/screenshots.py` and `bench/dashboard.py` (real engine, real stream
processor, real state store: no hand-made metadata rows).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trackline.config import Settings

XSS_SCRIPT = "<script>document.title='pwned'</script>"
XSS_IMG = '"><img src=x onerror="document.title=\'pwned\'">'
GENRES = ["rock", "pop", "jazz", "hip-hop", "folk"]
MEMBERS = ["alice", "bob", "carol"]


def events(n: int, *, seed: int, shift: bool = False, start: int = 0) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    weights = [1, 1, 1, 1, 6] if shift else [5, 4, 2, 1, 1]
    out = []
    for i in range(start, start + n):
        duration = rnd.randint(120_000, 300_000)
        out.append(
            {
                "event_id": f"e{seed}-{i}",
                "user_id": MEMBERS[i % 3] if i % 4 else f"u{i % 40}",
                "event_type": "play",
                "song_id": f"s{rnd.randint(0, 60)}",
                "artist_name": f"artist {rnd.randint(0, 15)}",
                "genre": rnd.choices(GENRES, weights)[0],
                "country": rnd.choice(["US", "GB", "DE", "FR"] if not shift else ["US", "BR"]),
                "device": rnd.choice(["mobile", "desktop", "web", "speaker", "tv"]),
                "position_ms": rnd.randint(0, duration),
                "duration_ms": duration,
                "timestamp": (now - timedelta(minutes=i)).isoformat(),
            }
        )
    return out


def write_ndjson(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def settings_for(home: Path) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    return Settings.load(home=home)


def batch_runs(settings: Settings, folder: Path, n: int = 400) -> list[str]:
    """Two runs of listening_events; the second shifted, both with rejected rows."""
    from trackline.engines.local import LocalEngine

    first = events(n, seed=1)
    bad: list[Any] = [
        {**first[0], "event_id": "bad-1", "country": XSS_SCRIPT},
        {**first[1], "event_id": "bad-2", "device": XSS_IMG},
        "{not json " + XSS_SCRIPT,
        {**first[2], "event_id": "bad-3", "position_ms": 999_999_999},
    ]
    engine = LocalEngine(settings)
    runs = []
    for name, rows in (
        ("day1.ndjson", first + bad + first[:5]),
        ("day2.ndjson", events(n, seed=2, shift=True)),
    ):
        result = engine.ingest([str(write_ndjson(folder / name, rows))], "listening_events")
        runs.append(result.manifest.run_id)
    return runs


def stream_run(settings: Settings, n: int = 300, batch: int = 40) -> str:
    """Publish `n` events on the embedded bus and stream them in, `batch` events a
    micro-batch (several batches: the stream page draws them); the stream's run id."""
    from trackline.bus.base import open_bus
    from trackline.contracts.loader import ContractRegistry
    from trackline.stream.consumer import StreamProcessor
    from trackline.stream.publisher import publish_events

    bus = open_bus(None, settings)
    try:
        registry = ContractRegistry(settings.contracts_dir)
        publish_events(bus, "events", n, ["orders", "listening_events"], registry,
                       invalid_share=0.1, seed=3)  # fmt: skip
        small = settings.model_copy(update={"stream_batch_size": batch})
        proc = StreamProcessor(small, bus, topic="events")
        proc.run(max_events=n, idle_exit=1.0)
        return proc.sink.run_id
    finally:
        bus.close()


def people(settings: Settings, runs: list[str]) -> str:
    """Users, the group `club` and one finished session with outcomes; the session id."""
    from trackline.state import open_state
    from trackline.state.groups import create_group

    store = open_state(settings)
    try:
        for u in MEMBERS:
            store.add_user(u)
        create_group(store, "club", MEMBERS)
        s = store.create_session(MEMBERS)
        assert store.claim_session(s.session_id, "w1", 60)
        store.record_user_outcome(s.session_id, "alice", {"status": "ok", "valid": 12})
        store.record_user_outcome(
            s.session_id, "bob", {"status": "error", "reason": "needs reauth " + XSS_SCRIPT}
        )
        store.add_run_id(s.session_id, runs[0])
        store.finish_session(s.session_id, "w1", "error", "bob failed")
        return s.session_id
    finally:
        store.close()


def build(home: Path, *, stream: bool = True) -> dict[str, Any]:
    """Everything above in `home`; what was made, by name."""
    settings = settings_for(home)
    inputs = home / "inputs"
    inputs.mkdir(exist_ok=True)
    runs = batch_runs(settings, inputs)
    made: dict[str, Any] = {"settings": settings, "runs": runs}
    if stream:
        made["stream_run"] = stream_run(settings)
    made["session"] = people(settings, runs)
    return made
