"""`--json` is one interface: one document on stdout (JSON Lines for streaming commands), every
timestamp RFC 3339 in UTC with `Z`, one name per quantity, and a JSON error on failure, usage
errors of the parser included. The bus is the log under the home: no service needed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CLI, Result
from trackline.fakeapi import FakeAPI, serve

RFC3339_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
#: Text that looks like a date and a time: each must be written RFC 3339 with `Z`.
STAMP_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def strings(doc: Any) -> Iterator[tuple[str, str]]:
    """(key path, text) of every string in a JSON document."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, str):
            yield where, value


def one_document(r: Result, what: str) -> Any:
    assert r.code == 0, (what, r.err)
    doc = json.loads(r.out)  # exactly one document: trailing text fails here
    for where, text in strings(doc):
        if STAMP_LIKE.match(text):
            assert RFC3339_Z.fullmatch(text), f"{what}: {where} = {text!r}"
    return doc


def test_every_json_command_prints_one_document_with_utc_z_timestamps(
    cli: CLI, tmp_path: Path
) -> None:
    data = tmp_path / "listens.ndjson"
    one_document(
        cli("generate", "listens", "-n", "200", "--seed", "2", "-o", str(data), "--json"), "gen"
    )
    run = one_document(cli("ingest", str(data), "-d", "listens", "--json"), "ingest")
    runs = one_document(cli("runs", "--json"), "runs")
    assert isinstance(runs, list) and runs[0]["started_at"].endswith("Z")
    manifest = one_document(cli("runs", "show", run["run_id"], "--json"), "runs show")
    assert manifest["started_at"].endswith("Z")
    one_document(cli("report", run["run_id"], "--json"), "report")
    rows = one_document(
        cli("query", "SELECT TIMESTAMPTZ '2026-12-07 06:20:00+01' AS t", "--json"), "query"
    )
    assert rows == [{"t": "2026-12-07T05:20:00Z"}]
    assert isinstance(one_document(cli("contracts", "list", "--json"), "contracts"), list)
    one_document(cli("contracts", "show", "listens", "--json"), "contracts show")

    assert cli("users", "add", "ana").code == 0
    users = one_document(cli("users", "list", "--json"), "users list")
    assert users[0]["created_at"].endswith("Z")
    assert cli("groups", "create", "pair", "-u", "ana").code == 0
    assert isinstance(one_document(cli("groups", "list", "--json"), "groups list"), list)
    session = one_document(cli("sessions", "create", "-u", "ana", "--json"), "sessions create")
    assert session["created_at"].endswith("Z")
    one_document(cli("sessions", "show", session["session_id"], "--json"), "sessions show")
    assert isinstance(one_document(cli("sessions", "list", "--json"), "sessions list"), list)
    one_document(cli("sessions", "feedback", session["session_id"], "--json"), "feedback")
    one_document(cli("trigger", "--older-than", "0", "--json"), "trigger")
    one_document(cli("spool", "list", "--json"), "spool list")
    one_document(cli("spool", "flush", "--json"), "spool flush")
    one_document(cli("config", "show", "--json"), "config show")
    one_document(cli("aggregate", "--date", "2026-12-06", "--json"), "aggregate")


def test_streaming_commands_print_json_lines_and_summaries_one_document(cli: CLI) -> None:
    published = one_document(cli("publish", "-n", "5", "--seed", "1", "--json"), "publish")
    assert published["published"] == 5 and "valid" in published
    r = cli("tail", "events", "--from-beginning", "--max", "5", "--idle-exit", "5", "--json")
    assert r.code == 0, r.err
    lines = [json.loads(line) for line in r.out.splitlines()]  # JSON Lines: one per message
    assert len(lines) == 5 and all({"id", "attributes", "data"} <= set(m) for m in lines)
    streamed = one_document(cli("stream", "--idle-exit", "1", "--json"), "stream")
    assert streamed["events"] == 5 and "valid" in streamed
    one_document(cli("worker", "--idle-exit", "1", "--json"), "worker")


def test_fetch_names_rows_added_valid_and_keeps_added(cli: CLI, fake: FakeAPI) -> None:
    doc = one_document(cli("fetch", "fakestore", "--json", extra_env=fake.env()), "fetch")
    user = doc["users"][0]
    assert user["valid"] == user["added"] and user["valid"]["products"] == 20


def test_cdc_once_is_json_lines(cli: CLI, fake: FakeAPI) -> None:
    r = cli("cdc", "carts", "--once", "--json", extra_env=fake.env())
    assert r.code == 0, r.err
    polls = [json.loads(line) for line in r.out.splitlines()]
    assert [p["poll"] for p in polls] == [1] and polls[0]["cold_start"] is True


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show", "--json"),  # a missing argument
        ("runs", "--json", "--no-such-flag"),  # an unknown option
        ("runs", "--limit", "many", "--json"),  # a bad value
        ("runs", "--json", "--limit"),  # an option without its value
    ],
    ids=["missing-argument", "unknown-option", "bad-value", "missing-value"],
)
def test_a_usage_error_under_json_is_one_json_error_and_exit_2(
    cli: CLI, args: tuple[str, ...]
) -> None:
    r = cli(*args)
    assert r.code == 2, (r.code, r.err)
    doc = json.loads(r.out)
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == 2 and doc["error"]
    err = [line for line in r.err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), r.err
    assert "--help" in err[0]  # says what to do next


def test_a_usage_error_without_json_still_shows_the_usage(cli: CLI) -> None:
    r = cli("runs", "show")
    assert r.code == 2 and r.out == ""
    assert "Usage" in r.err and "Missing argument" in r.err
