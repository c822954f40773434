"""Real concurrency: workers racing for the same sessions, in threads and in processes.

Each worker has its own store (its own connection), as separate worker processes would.
Whatever the interleaving, every session must be claimed exactly once.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.state.conftest import Backend
from trackline.config import Settings
from trackline.state import open_state

WORKERS = 4
SESSIONS = 12


def _sessions(backend: Backend) -> list[str]:
    store = backend.open()
    store.add_user("alice")
    return [store.create_session(["alice"]).session_id for _ in range(SESSIONS)]


def test_threads_racing_to_claim_exactly_one_wins(backend: Backend) -> None:
    ids = _sessions(backend)
    stores = [backend.open() for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)

    def worker(n: int) -> list[str]:
        barrier.wait()
        return [sid for sid in ids if stores[n].claim_session(sid, f"w{n}", 300)]

    with ThreadPoolExecutor(WORKERS) as pool:
        won = list(pool.map(worker, range(WORKERS)))
    claimed = [sid for w in won for sid in w]
    assert sorted(claimed) == sorted(ids)  # each exactly once
    check = backend.open()
    for sid in ids:
        s = check.get_session(sid)
        assert s is not None and s.status == "running" and s.attempts == 1
        assert [c.status for c in s.timeline] == ["pending", "running"]


def _claim_all(settings_json: str, worker: str, ids: list[str], start: object) -> list[str]:
    settings = Settings.model_validate_json(settings_json)
    store = open_state(settings)
    try:
        start.wait()  # type: ignore[attr-defined]
        return [sid for sid in ids if store.claim_session(sid, worker, 300)]
    finally:
        store.close()


def test_processes_racing_to_claim_exactly_one_wins(backend: Backend) -> None:
    ids = _sessions(backend)
    settings = backend.settings
    # SecretStr is masked in JSON; the race touches no token, so the key is not needed.
    blob = settings.model_copy(update={"secret_key": None}).model_dump_json()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(WORKERS)
        with ctx.Pool(WORKERS) as pool:
            results = pool.starmap(
                _claim_all, [(blob, f"p{n}", ids, start) for n in range(WORKERS)]
            )
    claimed = [sid for r in results for sid in r]
    assert sorted(claimed) == sorted(ids)


def test_one_store_shared_by_threads(backend: Backend) -> None:
    store = backend.open()
    users = [f"u{i}" for i in range(16)]
    for u in users:
        store.add_user(u)
    s = store.create_session(users)
    assert store.claim_session(s.session_id, "w1", 300)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda u: store.record_user_outcome(s.session_id, u, {"rows": int(u[1:])}),
                users,
            )
        )
    done = store.finish_session(s.session_id, "w1", "done")
    assert done.outcomes == {u: {"rows": int(u[1:])} for u in users}
