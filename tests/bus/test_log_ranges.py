"""The embedded log leases ranges of messages: partial acks, nacks and expiries split them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from trackline.bus.base import Outgoing
from trackline.bus.log import LogBus
from trackline.config import Settings


def _bus(tmp_path: Path, **settings: object) -> LogBus:
    values: dict[str, object] = {"bus_ack_timeout_seconds": 0.3, "bus_max_attempts": 9}
    values.update(settings)
    return LogBus.from_uri(
        f"log://{tmp_path / 'bus.db'}", Settings.load(home=tmp_path / "home", **values)
    )


def _ranges(bus: LogBus, topic: str) -> list[tuple[int, int, int]]:
    rows = bus.con.execute(
        "SELECT lo, hi, attempt FROM lease_ranges WHERE topic = ? ORDER BY lo", (topic,)
    ).fetchall()
    return [(int(a), int(b), int(c)) for a, b, c in rows]


def test_one_range_per_batch_and_a_full_ack_clears_it(tmp_path: Path) -> None:
    bus = _bus(tmp_path)
    bus.publish_batch("t", [Outgoing(f"m{i}".encode()) for i in range(100)])
    got = bus.consume("t", "g", max_messages=100, timeout=0)
    assert len(got) == 100 and len(_ranges(bus, "t")) == 1
    bus.ack("t", "g", got)
    assert _ranges(bus, "t") == []
    assert bus.consume("t", "g", timeout=0) == []


def test_partial_ack_and_nack_split_the_range(tmp_path: Path) -> None:
    bus = _bus(tmp_path)
    # another topic interleaved: its sequence numbers sit inside this topic's ranges
    for i in range(10):
        bus.publish("t", f"m{i}".encode())
        bus.publish("other", b"x")
    got = bus.consume("t", "g", max_messages=10, timeout=0)
    assert [m.data for m in got] == [f"m{i}".encode() for i in range(10)]
    bus.ack("t", "g", [m for i, m in enumerate(got) if i % 2 == 0])  # m0 m2 m4 m6 m8
    bus.nack("t", "g", [got[3], got[5]])
    again = bus.consume("t", "g", max_messages=10, timeout=0)
    assert [m.data for m in again] == [b"m3", b"m5"]  # only the nacked ones: the rest is leased
    assert all(m.delivery_attempt == 2 for m in again)
    bus.ack("t", "g", again)
    time.sleep(0.4)  # m1 m7 m9 expire
    late = bus.consume("t", "g", max_messages=10, timeout=0)
    assert [m.data for m in late] == [b"m1", b"m7", b"m9"]
    assert all(m.delivery_attempt == 2 for m in late)
    bus.ack("t", "g", late)
    assert _ranges(bus, "t") == []
    assert bus.consume("t", "g", timeout=0) == []


def test_an_expired_range_bigger_than_asked_is_split(tmp_path: Path) -> None:
    bus = _bus(tmp_path)
    bus.publish_batch("t", [Outgoing(f"m{i}".encode()) for i in range(10)])
    bus.consume("t", "g", max_messages=10, timeout=0)  # never acked
    time.sleep(0.4)
    first = bus.consume("t", "g", max_messages=4, timeout=0)
    assert [m.data for m in first] == [b"m0", b"m1", b"m2", b"m3"]
    assert all(m.delivery_attempt == 2 for m in first)
    rest = bus.consume("t", "g", max_messages=10, timeout=0)
    assert [m.data for m in rest] == [f"m{i}".encode() for i in range(4, 10)]
    assert all(m.delivery_attempt == 2 for m in rest)
    bus.ack("t", "g", first + rest)
    assert _ranges(bus, "t") == []


def test_leases_of_an_older_log_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, data BLOB NOT NULL,"
        " attributes TEXT, ordering_key TEXT, publish_time REAL NOT NULL);"
        "CREATE TABLE groups (topic TEXT NOT NULL, grp TEXT NOT NULL, next_seq INTEGER NOT NULL,"
        " PRIMARY KEY (topic, grp));"
        "CREATE TABLE leases (topic TEXT NOT NULL, grp TEXT NOT NULL, seq INTEGER NOT NULL,"
        " attempt INTEGER NOT NULL, deadline REAL NOT NULL, PRIMARY KEY (topic, grp, seq))"
        " WITHOUT ROWID;"
        "INSERT INTO messages VALUES (1, 't', x'6131', NULL, NULL, 1.0), (2, 't', x'6132', NULL,"
        " NULL, 1.0), (3, 't', x'6133', NULL, NULL, 1.0);"
        "INSERT INTO groups VALUES ('t', 'g', 4);"
        "INSERT INTO leases VALUES ('t', 'g', 1, 2, 0), ('t', 'g', 3, 1, 0);"
    )
    con.commit()
    con.close()
    bus = _bus(tmp_path)
    got = bus.consume("t", "g", max_messages=10, timeout=0)
    assert [(m.data, m.delivery_attempt) for m in got] == [(b"a1", 3), (b"a3", 2)]
    assert bus.con.execute("SELECT 1 FROM sqlite_master WHERE name = 'leases'").fetchone() is None
