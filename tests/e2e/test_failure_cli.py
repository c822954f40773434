"""Failure is reported as failure: exit codes, one line on stderr, `--json` errors, time bounds.

Dead servers are closed local ports (nothing listens on port 1), so these tests need no service.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI, Result
from trackline.fakeapi import FakeAPI, serve

DEAD_API = "http://127.0.0.1:1"
#: Few, short retries: a dead server must still end the command within its (short) timeout.
QUICK = {
    "TRACKLINE_HTTP_MAX_ATTEMPTS": "2",
    "TRACKLINE_HTTP_BACKOFF_SECONDS": "0.05",
    "TRACKLINE_BUS_RETRY_SECONDS": "2",
}


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def assert_one_line(r: Result, code: int, *words: str) -> None:
    """Exit `code`, exactly one `error:` line on stderr naming `words`, no traceback."""
    err = lines(r.err)
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err, r.err
    assert len(err) == 1 and err[0].startswith("error: "), r.err
    for w in words:
        assert w in err[0], (w, err[0])


def timed(cli: CLI, *args: str, env: dict[str, str] | None = None) -> tuple[Result, float]:
    start = time.monotonic()
    r = cli(*args, extra_env={**QUICK, **(env or {})})
    return r, time.monotonic() - start


# -- point 7: failure is not success ------------------------------------------------------------


def test_fetch_with_every_endpoint_failing_exits_1_with_status_error(cli: CLI) -> None:
    env = {"TRACKLINE_FAKESTORE_API_URL": f"{DEAD_API}/fakestore"}
    r, took = timed(cli, "fetch", "fakestore", "--json", env=env)
    assert r.code == 1, r.err
    doc = r.json()
    assert [u["status"] for u in doc["users"]] == ["error"]
    assert doc["failed"] == 1 and doc["ok"] == 0
    assert "connection" in doc["users"][0]["error"]
    assert "Traceback" not in r.err and len(lines(r.err)) <= 1, r.err
    assert took < 90

    r, _ = timed(cli, "fetch", "fakestore", env=env)
    assert r.code == 1
    assert len(lines(r.err)) == 1 and "error" in r.err and "Traceback" not in r.err, r.err
    assert "1 failed" in r.out


def test_partial_fetch_fails_unless_allow_partial(cli: CLI, fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/carts", ["500"] * 20)
    r = cli("fetch", "fakestore", "--json", extra_env={**QUICK, **fake.env()})
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["users"][0]["status"] == "partial" and doc["failed"] == 1
    assert doc["users"][0]["added"]["products"] == 20  # what did come in is kept

    fake.faults.clear()
    fake.faults.script("/fakestore/carts", ["500"] * 20)
    r = cli("fetch", "fakestore", "--allow-partial", "--json", extra_env={**QUICK, **fake.env()})
    assert r.code == 0, r.err
    assert r.json()["users"][0]["status"] == "partial" and r.json()["failed"] == 0


def _warehouse_with_listens(cli: CLI, tmp_path: Path) -> str:
    data = tmp_path / "listens.ndjson"
    r = cli("generate", "listens", "--count", "300", "--seed", "1", "--out", str(data))
    assert r.code == 0, r.err
    r = cli("ingest", str(data), "--dataset", "listens")
    assert r.code == 0, r.err
    r = cli("query", "SELECT min(user_id) AS u FROM listens", "--json")
    assert r.code == 0, r.err
    return str(r.json()[0]["u"])


def test_unknown_ids_exit_2_naming_the_id_and_how_to_list_them(cli: CLI, tmp_path: Path) -> None:
    known = _warehouse_with_listens(cli, tmp_path)
    for args, word, hint in [
        (("recommend", "--user", "nobody"), "'nobody'", "users list"),
        (("recommend", "--user", "nobody", "--json"), "'nobody'", "users list"),
        (("analytics", "group", "--user", known, "--user", "nobody"), "'nobody'", "users list"),
        (("analytics", "group", "--group", "nogroup"), "'nogroup'", "groups create"),
        (("sessions", "feedback", "NOSUCH"), "'NOSUCH'", "sessions list"),
        (("sessions", "show", "NOSUCH"), "'NOSUCH'", "sessions list"),
        (("fetch", "spotify", "--user", "nobody"), "'nobody'", "users list"),
    ]:
        r = cli(*args)
        assert_one_line(r, 2, word, hint)
        if "--json" in args:
            assert r.json()["error"] and r.json()["exit_code"] == 2
    assert known != "nobody"
    r = cli("recommend", "--user", known, "--json")
    assert r.code == 0, r.err
    r = cli("analytics", "group", "--user", known, "--json")
    assert r.code == 0 and r.json()["per_member"][known]["plays"] > 0, r.err


# -- point 8: a dead server is one line, not 800 ------------------------------------------------

PG = {"TRACKLINE_STATE_URI": "postgresql://127.0.0.1:1/x"}
DEAD = [
    pytest.param(("publish", "-n", "1", "--bus", "nats://127.0.0.1:1"), {}, "NATS", id="nats"),
    pytest.param(("publish", "-n", "1", "--bus", "redis://127.0.0.1:1"), {}, "redis", id="redis"),
    pytest.param(("tail", "events", "--bus", "redis://127.0.0.1:1"), {}, "redis", id="tail"),
    pytest.param(
        ("stream", "--bus", "redis://127.0.0.1:1", "--idle-exit", "1"),
        {"TRACKLINE_BUS_RETRY_SECONDS": "2"},
        "redis",
        id="stream",
    ),
    pytest.param(
        ("serve", "worker", "--port", "1"),
        {**PG, "TRACKLINE_WORKER_TOKEN": "t0ken"},
        "state store",
        id="pg-worker",
    ),
    pytest.param(("sessions", "list"), PG, "state store", id="pg-sessions"),
    pytest.param(("users", "list"), PG, "state store", id="pg-users"),
    pytest.param(("groups", "list"), PG, "state store", id="pg-groups"),
    pytest.param(("sessions", "create", "--user", "a"), PG, "state store", id="pg-create"),
    pytest.param(
        ("cdc", "carts", "--once"),
        {"TRACKLINE_FAKESTORE_API_URL": f"{DEAD_API}/fakestore"},
        "connection error",
        id="api-cdc",
    ),
]


@pytest.mark.parametrize(("args", "env", "word"), DEAD)
def test_a_dead_server_is_one_line_and_exit_1(
    cli: CLI, args: tuple[str, ...], env: dict[str, str], word: str
) -> None:
    r, took = timed(cli, *args, env=env)
    assert_one_line(r, 1, word)
    assert took < 90  # NATS's connect timeout is the longest (15 s); loaded machines are slow


@pytest.mark.parametrize(("args", "env", "word"), [DEAD[1], DEAD[5], DEAD[-1]])
def test_a_dead_server_under_json_prints_one_json_error(
    cli: CLI, args: tuple[str, ...], env: dict[str, str], word: str
) -> None:
    r, _ = timed(cli, *args, "--json", env=env)
    assert_one_line(r, 1, word)
    doc = json.loads(r.out)  # one document, nothing else on stdout
    assert word in doc["error"] and doc["exit_code"] == 1


def test_debug_shows_the_traceback(cli: CLI) -> None:
    r, _ = timed(cli, "--debug", "sessions", "list", env=PG)
    assert r.code == 1 and "Traceback" in r.err


def test_a_bus_uri_with_an_option_redis_does_not_take_is_an_unusable_call(cli: CLI) -> None:
    r, _ = timed(cli, "publish", "-n", "1", "--bus", "redis://:s3cr3t@127.0.0.1:1/0?token=abc")
    assert_one_line(r, 2, "token")
    assert "s3cr3t" not in r.err and "abc" not in r.err
