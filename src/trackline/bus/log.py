"""`log://PATH`: the embedded durable log, one SQLite file (WAL), no server.

Messages get a global sequence number. A consumer group is a cursor (`next_seq`: everything
before it was delivered at least once) plus leases on the delivered, unacked messages. A lease
is a *range*: one row `[lo, hi]` of sequence numbers with an attempt count and a visibility
deadline, covering every message of the topic in it. A consume takes a contiguous run of new
messages, so it writes one lease row however big the batch; an ack of the whole batch deletes
that row. Acking or nacking only part of a range splits it into the runs that are left (nack:
those runs expire now). A consumer killed without acking leaves ranges that expire after the
ack timeout, and the next consume of any member of the group takes them again with the
attempt count raised. Every step is one `BEGIN IMMEDIATE` transaction, so many processes can
share the file and a batch costs a few statements, not one per message.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackline.bus.base import (
    BusError,
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Publishing,
    Start,
    dead_letter,
)
from trackline.config import Settings
from trackline.core.names import check_name
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
CREATE TABLE IF NOT EXISTS lease_ranges (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    deadline REAL NOT NULL,
    PRIMARY KEY (topic, grp, lo)
) WITHOUT ROWID;
"""
# A log written by an earlier version holds one lease row per message: each becomes a range
# of one, so its unacked messages are still redelivered with their attempt counts.
MIGRATE_LEASES = """
INSERT OR IGNORE INTO lease_ranges SELECT topic, grp, seq, seq, attempt, deadline FROM leases;
DROP TABLE leases;
"""

COLUMNS = "m.seq, m.data, m.attributes, m.ordering_key, m.publish_time"
POLL_MIN, POLL_MAX = 0.005, 0.1


class LogBus(Publishing):
    """The embedded log. Safe to share between threads (one lock) and processes (SQLite)."""

    scheme = "log"
    thread_safe = True  # the stream processor may consume and ack from two threads
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
            old = self.con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'leases'"
            ).fetchone()
            if old:
                self.con.executescript(f"BEGIN IMMEDIATE; {MIGRATE_LEASES} COMMIT;")
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
    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        check_name(topic, "topic")
        if not messages:
            return []
        limit = self.capabilities.max_message_bytes
        for m in messages:
            if len(m.data) > limit:
                raise BusError(f"message of {len(m.data)} bytes is over the log's {limit}")
        now = time.time()
        rows = [(topic, m.data, _encode(m.attributes), m.ordering_key, now) for m in messages]
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
        check_name(topic, "topic")
        check_name(group, "consumer group")
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
        """Lease up to `n` messages: expired ranges first, then new ones. The transaction only
        reads sequence numbers (from the index) and writes the leases; the payloads are read
        after it commits (messages never change), so publishers wait as little as possible."""
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
            taken = self._take_expired(cur, topic, group, n, now, lease_until)
            want = n - sum(count for *_, count in taken)
            if want > 0:
                lo, hi, count = _span(cur, topic, next_seq, None, want)
                if count:
                    cur.execute(
                        "INSERT INTO lease_ranges VALUES (?, ?, ?, ?, 1, ?)",
                        (topic, group, lo, hi, lease_until),
                    )
                    cur.execute(
                        "UPDATE groups SET next_seq = ? WHERE topic = ? AND grp = ?",
                        (hi + 1, topic, group),
                    )
                    taken.append((lo, hi, 1, count))
        out: list[Message] = []
        with self._lock:
            for lo, hi, attempt, _count in taken:
                rows = self.con.execute(
                    f"SELECT {COLUMNS} FROM messages m WHERE m.topic = ? "
                    "AND m.seq BETWEEN ? AND ? ORDER BY m.seq",
                    (topic, lo, hi),
                ).fetchall()
                out.extend(_messages(topic, rows, attempt))
        return out

    def _take_expired(
        self, cur: sqlite3.Cursor, topic: str, group: str, n: int, now: float, until: float
    ) -> list[tuple[int, int, int, int]]:
        """Ranges whose deadline passed (oldest first), leased again until `until` with the
        attempt raised, as (lo, hi, attempt, count); a range bigger than wanted is split."""
        expired = cur.execute(
            "SELECT lo, hi, attempt FROM lease_ranges "
            "WHERE topic = ? AND grp = ? AND deadline <= ? ORDER BY lo",
            (topic, group, now),
        ).fetchall()
        out: list[tuple[int, int, int, int]] = []
        left = n
        for lo, hi, attempt in expired:
            if left <= 0:
                break
            _, last, count = _span(cur, topic, lo, hi, left)
            cur.execute(
                "DELETE FROM lease_ranges WHERE topic = ? AND grp = ? AND lo = ?",
                (topic, group, lo),
            )
            if not count:
                continue  # nothing of this topic left in it
            cur.execute(
                "INSERT INTO lease_ranges VALUES (?, ?, ?, ?, ?, ?)",
                (topic, group, lo, last, attempt + 1, until),
            )
            if last < hi:  # the rest stays expired, at its attempt
                cur.execute(
                    "INSERT INTO lease_ranges VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, group, last + 1, hi, attempt, 0.0),
                )
            out.append((lo, last, attempt + 1, count))
            left -= count
        return out

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            with self._tx() as cur:
                self._settle(cur, topic, group, messages, None)

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            with self._tx() as cur:
                self._settle(cur, topic, group, messages, 0.0)

    def _settle(
        self,
        cur: sqlite3.Cursor,
        topic: str,
        group: str,
        messages: Sequence[Message],
        deadline: float | None,
    ) -> None:
        """Take `messages` out of their lease ranges: dropped (ack, `deadline` None) or put
        in ranges of their own expiring at `deadline` (nack). What is left of a range keeps
        its attempt and deadline."""
        seqs = sorted({int(m.handle) for m in messages})
        ranges = cur.execute(
            "SELECT lo, hi, attempt, deadline FROM lease_ranges "
            "WHERE topic = ? AND grp = ? AND hi >= ? AND lo <= ? ORDER BY lo",
            (topic, group, seqs[0], seqs[-1]),
        ).fetchall()
        for lo, hi, attempt, old_deadline in ranges:
            inside = seqs[bisect_left(seqs, lo) : bisect_right(seqs, hi)]
            if not inside:
                continue
            if deadline is None:
                count = cur.execute(
                    "SELECT count(*) FROM messages WHERE topic = ? AND seq BETWEEN ? AND ?",
                    (topic, lo, hi),
                ).fetchone()[0]
                if count == len(inside):  # the whole range acked: the common case
                    cur.execute(
                        "DELETE FROM lease_ranges WHERE topic = ? AND grp = ? AND lo = ?",
                        (topic, group, lo),
                    )
                    continue
            members = [
                r[0]
                for r in cur.execute(
                    "SELECT seq FROM messages WHERE topic = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                    (topic, lo, hi),
                )
            ]
            picked = set(inside)
            pieces: list[tuple[int, int, float]] = []
            prev: float | None = None
            for seq in members:  # runs of members that stay (or are nacked) become ranges
                mark = deadline if seq in picked else old_deadline
                if mark is not None:
                    if pieces and prev == mark:
                        pieces[-1] = (pieces[-1][0], seq, mark)
                    else:
                        pieces.append((seq, seq, mark))
                prev = mark
            cur.execute(
                "DELETE FROM lease_ranges WHERE topic = ? AND grp = ? AND lo = ?",
                (topic, group, lo),
            )
            cur.executemany(
                "INSERT INTO lease_ranges VALUES (?, ?, ?, ?, ?, ?)",
                [(topic, group, a, b, attempt, d) for a, b, d in pieces],
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
            cur.execute("DELETE FROM lease_ranges WHERE topic = ? AND grp = ?", (topic, group))
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


def _span(cur: sqlite3.Cursor, topic: str, lo: int, hi: int | None, n: int) -> tuple[int, int, int]:
    """First and last sequence number and count of the topic's first `n` messages from `lo`
    (up to `hi`), read from the index alone."""
    bound = "" if hi is None else f" AND seq <= {int(hi)}"
    row = cur.execute(
        "SELECT min(seq), max(seq), count(*) FROM (SELECT seq FROM messages "
        f"WHERE topic = ? AND seq >= ?{bound} ORDER BY seq LIMIT ?)",
        (topic, lo, n),
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row[2] else (0, 0, 0)


_ENCODED: dict[tuple[tuple[str, str], ...], str] = {}


def _encode(attributes: dict[str, str]) -> str | None:
    """Attributes as stored; the few distinct sets (one per event type) are encoded once."""
    if not attributes:
        return None
    key = tuple(attributes.items())
    text = _ENCODED.get(key)
    if text is None:
        text = json.dumps(attributes)
        if len(_ENCODED) < 10_000:
            _ENCODED[key] = text
    return text


def _messages(topic: str, rows: list[Any], attempt: int) -> list[Message]:
    """Message objects for fetched rows. The few distinct attribute texts are parsed once;
    each message still gets its own dict (callers may change theirs)."""
    parsed: dict[str, dict[str, str]] = {}
    out: list[Message] = []
    append = out.append
    for seq, data, attributes, key, published in rows:
        if attributes:
            attrs = parsed.get(attributes)
            if attrs is None:
                attrs = parsed[attributes] = json.loads(attributes)
            attrs = attrs.copy()
        else:
            attrs = {}
        append(Message(str(seq), data, attrs, key, published, attempt, topic, seq))
    return out
