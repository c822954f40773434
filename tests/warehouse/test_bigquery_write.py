"""The Storage Write API appender against the emulator (bqemulator's gRPC on 9060): two batches
committed by one pending stream are read back by a query; rows that do not fit the table, a
missing table and a server that never answers give the typed error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.warehouse.bigquery_emulator import bigquery_settings
from trackline.config import Settings
from trackline.warehouse import bigquery_write
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_write import Appender, StorageWriteError, WriteTarget

PROJECT = "trackline-test"
SCHEMA = [
    ("event_id", "STRING", "REQUIRED"),
    ("amount", "FLOAT64", "NULLABLE"),
    ("items", "INT64", "NULLABLE"),
    ("at", "TIMESTAMP", "REQUIRED"),
    ("day", "DATE", "NULLABLE"),
    ("ok", "BOOL", "NULLABLE"),
]


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield bigquery_settings(tmp_path / "home", "w", storage=True)


@pytest.fixture
def bq(settings: Settings) -> Iterator[BigQuery]:
    client = BigQuery(settings)
    client.ensure_dataset()
    client.create_table("sales", SCHEMA)
    yield client
    client.close()


def batch(ids: list[str], at: datetime) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "event_id": ids,
            "amount": [1.5 * i for i in range(n)],
            "items": list(range(n)),
            "at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            "day": [at.date()] * n,
            "ok": [i % 2 == 0 for i in range(n)],
        }
    )


def test_two_batches_commit_together_and_read_back(settings: Settings, bq: BigQuery) -> None:
    at = datetime(2026, 6, 1, 10, 15, 30, 123456, tzinfo=UTC)
    appender = Appender(WriteTarget.from_settings(settings))
    try:
        added = appender.append("sales", [batch(["a", "b"], at), batch(["c", "d", "e"], at)])
    finally:
        appender.close()
    assert added == 5
    rows = bq.query(f"SELECT * FROM `{bq.target.table('sales')}` ORDER BY event_id").to_pylist()
    assert [r["event_id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["items"] for r in rows] == [0, 1, 0, 1, 2]
    assert [r["amount"] for r in rows] == [0.0, 1.5, 0.0, 1.5, 3.0]
    assert all(r["at"] == at and r["day"] == at.date() for r in rows)
    assert [r["ok"] for r in rows] == [True, False, True, False, True]


def test_a_big_batch_goes_in_several_requests_at_their_offsets(
    settings: Settings, bq: BigQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bigquery_write, "REQUEST_BYTES", 1)  # one row a request
    at = datetime(2026, 6, 1, tzinfo=UTC)
    appender = Appender(WriteTarget.from_settings(settings))
    try:
        assert appender.append("sales", [batch([f"r{i}" for i in range(7)], at)]) == 7
    finally:
        appender.close()
    found = bq.query(f"SELECT event_id, items FROM `{bq.target.table('sales')}`").to_pylist()
    assert sorted((r["event_id"], r["items"]) for r in found) == [(f"r{i}", i) for i in range(7)]


def test_rows_of_an_uncommitted_stream_never_show(settings: Settings, bq: BigQuery) -> None:
    from google.api_core import exceptions

    unavailable: Any = exceptions.ServiceUnavailable  # untyped
    appender = Appender(WriteTarget.from_settings(settings))

    def lost(**_: Any) -> None:  # the commit never reaches the service
        raise unavailable("connection reset")

    appender.client.batch_commit_write_streams = lost
    try:
        with pytest.raises(StorageWriteError, match="could not commit the write stream"):
            appender.append(
                "sales", [batch(["a", "b"], datetime.now(UTC)), batch(["c"], datetime.now(UTC))]
            )
    finally:
        appender.close()
    count = f"SELECT COUNT(*) AS n FROM `{bq.target.table('sales')}`"
    assert bq.query(count).to_pylist() == [{"n": 0}]  # appended, finalized, not committed


def test_only_the_batch_columns_go_up_and_others_stay_null(
    settings: Settings, bq: BigQuery
) -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    rows = pa.table({"event_id": ["x"], "at": pa.array([at], pa.timestamp("us", tz="UTC"))})
    appender = Appender(WriteTarget.from_settings(settings))
    try:
        assert appender.append("sales", [rows]) == 1
        assert appender.append("sales", [rows.slice(0, 0)]) == 0  # nothing to send
    finally:
        appender.close()
    found = bq.query(f"SELECT * FROM `{bq.target.table('sales')}`").to_pylist()
    assert found == [
        {"event_id": "x", "amount": None, "items": None, "at": at, "day": None, "ok": None}
    ]


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ({"event_id": ["x"], "at": [0], "colour": ["red"]}, "has no column colour"),
        ({"event_id": ["x"]}, r"lack the required column\(s\) at"),
        ({"event_id": [None], "at": [0]}, "event_id is required"),
        ({"event_id": ["x"], "at": [0], "items": ["many"]}, "do not fit its columns"),
    ],
)
def test_rows_that_do_not_fit_the_table_are_refused(
    settings: Settings, bq: BigQuery, rows: dict[str, Any], said: str
) -> None:
    data = pa.table(
        {k: pa.array(v, pa.timestamp("us", tz="UTC")) if k == "at" else v for k, v in rows.items()}
    )
    appender = Appender(WriteTarget.from_settings(settings))
    try:
        with pytest.raises(StorageWriteError, match=said):
            appender.append("sales", [data])
    finally:
        appender.close()
    assert bq.query(f"SELECT COUNT(*) AS n FROM `{bq.target.table('sales')}`").to_pylist() == [
        {"n": 0}
    ]


def test_a_missing_table_says_create_it(settings: Settings, bq: BigQuery) -> None:
    appender = Appender(WriteTarget.from_settings(settings))
    try:
        with pytest.raises(StorageWriteError, match=r"does not exist .* create it first"):
            appender.append("nowhere", [batch(["a"], datetime.now(UTC))])
    finally:
        appender.close()


def test_a_server_that_never_answers_fails_within_the_deadline() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:  # takes connections and never says a word
        try:
            while True:
                held.append(silent.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    port = silent.getsockname()[1]
    appender = Appender(WriteTarget(PROJECT, "d", f"127.0.0.1:{port}", timeout=1.0))
    began = time.monotonic()
    try:
        with pytest.raises(StorageWriteError, match=r"no answer|could not open"):
            appender.append("t", [batch(["a"], datetime.now(UTC))])
    finally:
        appender.close()
        silent.close()
        for s in held:
            s.close()
    assert time.monotonic() - began < 10
