"""Two push workers sharing one PostgreSQL state store never run the same session.

Every message is pushed to both workers at the same moment (as if Pub/Sub delivered it to two
instances); each worker has its own store connection, so the race is decided in PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.services import require
from tests.web.conftest import TOKEN, auth, envelope, serve_app
from trackline.config import Settings
from trackline.pipelines.base import UserOutcome
from trackline.pipelines.generated import GeneratedPipeline
from trackline.state import StateStore, open_state
from trackline.web.auth import TokenAuth
from trackline.web.push import create_app


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    uri = require("postgres") + f"?schema=w_{uuid.uuid4().hex[:12]}"
    yield Settings.load(home=tmp_path / "home", state_uri=uri, secret_key="x" * 43 + "=")
    import psycopg

    conninfo, _, schema = uri.partition("?schema=")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_two_workers_on_postgres_never_run_the_same_session(pg_settings: Settings) -> None:
    settings = pg_settings
    runs: Counter[tuple[str, str]] = Counter()
    inner = GeneratedPipeline(settings, count=10)

    def pipeline(s: Settings, st: StateStore, user_id: str) -> UserOutcome:
        runs[(user_id, st.scheme)] += 1
        return inner(s, st, user_id)

    admin = open_state(settings)
    stores = [open_state(settings), open_state(settings)]
    try:
        for u in ("ana", "ben"):
            admin.add_user(u)
        ids = [admin.create_session(["ana", "ben"]).session_id for _ in range(12)]
        apps = [
            create_app(
                settings, store=st, pipeline=pipeline, worker_id=f"w{i}",
                authenticator=TokenAuth(TOKEN),
            )
            for i, st in enumerate(stores)
        ]  # fmt: skip
        with serve_app(apps[0]) as a, serve_app(apps[1]) as b, ThreadPoolExecutor(8) as pool:
            futures = [
                pool.submit(
                    httpx.post, f"{url}/pubsub/push", json=envelope(sid), headers=auth(), timeout=60
                )
                for sid in ids
                for url in (a, b)
            ]
            results = [f.result() for f in futures]
        assert all(r.status_code == 200 for r in results)
        by_session: dict[str, list[str]] = {}
        for r in results:
            by_session.setdefault(r.json()["session_id"], []).append(r.json()["result"])
        for sid in ids:
            ran = [x for x in by_session[sid] if x == "done"]
            assert len(ran) == 1, by_session[sid]
            found = admin.get_session(sid)
            assert found is not None and found.status == "done" and found.attempts == 1
            claims = [c for c in found.timeline if c.status == "running"]
            assert len(claims) == 1
        assert sum(runs.values()) == 2 * len(ids)  # each member once per session, no more
    finally:
        for st in [*stores, admin]:
            st.close()
