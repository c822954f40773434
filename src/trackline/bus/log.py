"""`log://PATH`: the embedded durable log, one SQLite file (WAL), no server.

Messages get a global sequence number. A consumer group is a cursor (`next_seq`: everything
before it was delivered at least once) plus one lease row per delivered, unacked message with
a visibility deadline. Ack deletes the lease; nack expires it now; a consumer killed without
acking leaves leases that expire after the ack timeout, and the next consume of any member of
the group takes them again with the attempt count raised. Every step is one `BEGIN IMMEDIATE`
transaction with `executemany`, so many processes can share the file and a batch costs a few
statements, not one per message.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackline.bus.base import (
    BusError,
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Start,
    dead_letter,
)
from trackline.config import Settings
from trackline.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    data BLOB NOT NULL,
    attributes TEXT,
    ordering_key TEXT,
    publish_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_topic ON messages (topic, seq);
CREATE TABLE IF NOT EXISTS groups (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (topic, grp)
);
CREATE TABLE IF NOT EXISTS leases (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    deadline REAL NOT NULL,
    PRIMARY KEY (topic, grp, seq)
) WITHOUT ROWID;
"""

COLUMNS = "m.seq, m.data, m.attributes, m.ordering_key, m.publish_time"
POLL_MIN, POLL_MAX = 0.005, 0.1


class LogBus:
    """The embedded log. Safe to share between threads (one lock) and processes (SQLite)."""

    scheme = "log"
    capabilities = Capabilities(
        ordering=True,
        persistence=True,
        replay=True,
        consumer_groups=True,
        max_message_bytes=64 * 1024 * 1024,
    )

    def __init__(self, path: Path, options: BusOptions) -> None:
        self.path = path
        self.options = options
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(
                str(path), timeout=60, isolation_level=None, check_same_thread=False
            )
            self.con.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a killed process (kill -9); only a power
            # cut may lose the last transactions. FULL would fsync every batch.
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the bus log {path}: {exc}; check the path is writable"
            ) from None
        self._lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> LogBus:
        rest = uri.split("://", 1)[1] if "://" in uri else ""
        path = Path(rest) if rest else settings.home / "bus.db"
        return cls(path, BusOptions.from_settings(settings))

    # Publishing --------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> str:
        return self.publish_batch(topic, [Outgoing(data, attributes or {}, ordering_key)])[0]

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        if not messages:
            return []
        limit = self.capabilities.max_message_bytes
        for m in messages:
            if len(m.data) > limit:
                raise BusError(f"message of {len(m.data)} bytes is over the log's {limit}")
        now = time.time()
        rows = [
            (topic, m.data, json.dumps(m.attributes) if m.attributes else None, m.ordering_key, now)
            for m in messages
        ]
        with self._tx() as cur:
            first = cur.execute("SELECT coalesce(max(seq), 0) + 1 FROM messages").fetchone()[0]
            cur.executemany(
                "INSERT INTO messages (topic, data, attributes, ordering_key, publish_time) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return [str(first + i) for i in range(len(rows))]

    # Consuming ---------------------------------------------------------------------------
    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = POLL_MIN
        while True:
            got = self._take(topic, group, max_messages, start)
            got = dead_letter(self, topic, group, got, self.options.max_attempts)
            if got or time.monotonic() >= deadline:
                return got
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, POLL_MAX)

    def _take(self, topic: str, group: str, n: int, start: Start) -> list[Message]:
        now = time.time()
        lease_until = now + self.options.ack_timeout
        with self._tx() as cur:
            row = cur.execute(
                "SELECT next_seq FROM groups WHERE topic = ? AND grp = ?", (topic, group)
            ).fetchone()
            if row is None:
                first = 1
                if start == "latest":
                    first = cur.execute(
                        "SELECT coalesce(max(seq), 0) + 1 FROM messages"
                    ).fetchone()[0]
                cur.execute("INSERT INTO groups VALUES (?, ?, ?)", (topic, group, first))
                next_seq = first
            else:
                next_seq = row[0]
            expired = cur.execute(
                f"SELECT {COLUMNS}, l.attempt + 1 FROM leases l JOIN messages m ON m.seq = l.seq "
                "WHERE l.topic = ? AND l.grp = ? AND l.deadline <= ? ORDER BY l.seq LIMIT ?",
                (topic, group, now, n),
            ).fetchall()
            if expired:
                cur.executemany(
                    "UPDATE leases SET attempt = ?, deadline = ? "
                    "WHERE topic = ? AND grp = ? AND seq = ?",
                    [(r[5], lease_until, topic, group, r[0]) for r in expired],
                )
            fresh: list[Any] = []
            if len(expired) < n:
                fresh = cur.execute(
                    f"SELECT {COLUMNS}, 1 FROM messages m WHERE m.topic = ? AND m.seq >= ? "
                    "ORDER BY m.seq LIMIT ?",
                    (topic, next_seq, n - len(expired)),
                ).fetchall()
                if fresh:
                    cur.executemany(
                        "INSERT INTO leases VALUES (?, ?, ?, 1, ?)",
                        [(topic, group, r[0], lease_until) for r in fresh],
                    )
                    cur.execute(
                        "UPDATE groups SET next_seq = ? WHERE topic = ? AND grp = ?",
                        (fresh[-1][0] + 1, topic, group),
                    )
        return [_message(topic, r) for r in (*expired, *fresh)]

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            with self._tx() as cur:
                cur.executemany(
                    "DELETE FROM leases WHERE topic = ? AND grp = ? AND seq = ?",
                    [(topic, group, m.handle) for m in messages],
                )

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            with self._tx() as cur:
                cur.executemany(
                    "UPDATE leases SET deadline = 0 WHERE topic = ? AND grp = ? AND seq = ?",
                    [(topic, group, m.handle) for m in messages],
                )

    def lag(self, topic: str, group: str) -> int | None:
        with self._lock:
            row = self.con.execute(
                "SELECT count(*) FROM messages WHERE topic = ? AND seq >= coalesce("
                "(SELECT next_seq FROM groups WHERE topic = ? AND grp = ?), 1)",
                (topic, topic, group),
            ).fetchone()
        return int(row[0])

    def delete_group(self, topic: str, group: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM leases WHERE topic = ? AND grp = ?", (topic, group))
            cur.execute("DELETE FROM groups WHERE topic = ? AND grp = ?", (topic, group))

    def close(self) -> None:
        with self._lock:
            self.con.close()

    # Helpers -----------------------------------------------------------------------------
    def _tx(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` under the bus lock (ROLLBACK on error)."""

    def __init__(self, bus: LogBus) -> None:
        self.bus = bus

    def __enter__(self) -> sqlite3.Cursor:
        self.bus._lock.acquire()
        try:
            self.cur = self.bus.con.cursor()
            self.cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.bus._lock.release()
            raise BusError(f"bus log {self.bus.path} is unavailable: {exc}") from None
        return self.cur

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        try:
            self.cur.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.bus._lock.release()


def _attributes(text: str | None, cache: dict[str, dict[str, str]] = {}) -> dict[str, str]:  # noqa: B006
    """Parsed attributes; the few distinct texts (one per event type) are parsed once."""
    if not text:
        return {}
    parsed = cache.get(text)
    if parsed is None:
        parsed = json.loads(text)
        if len(cache) < 10_000:
            cache[text] = parsed
    return dict(parsed)


def _message(topic: str, r: Any) -> Message:
    seq, data, attributes, key, published, attempt = r
    return Message(
        id=str(seq),
        data=bytes(data),
        attributes=_attributes(attributes),
        ordering_key=key,
        publish_time=float(published),
        delivery_attempt=int(attempt),
        topic=topic,
        handle=seq,
    )
