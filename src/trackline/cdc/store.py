"""The last snapshot and the event sequence, kept in the state store.

A snapshot of 100,000 carts is about 15 MB of JSON; Firestore refuses documents over 1 MiB, so
the snapshot is split into shards of about `SHARD_TARGET` carts (by CRC32 of the cart id) plus a
small head document that names the shard count and generation. A save rewrites only the shards
whose carts changed, then the head. A crash between two shard writes leaves some shards new and
some old: the next poll then re-emits the old shards' changes with the same event ids (a
duplicate, never a loss). When the shard count changes, a new generation is written in full
before the head points at it; the old one is deleted afterwards.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from trackline.cdc.snapshot import Entry, bulk
from trackline.state import StateStore

COLLECTION = "cdc"
SHARD_TARGET = 2_000
FORMAT = 1


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode()) % shards


def shard_count(carts: int) -> int:
    """A power of two giving at most about SHARD_TARGET carts per shard."""
    n = 1
    while n * SHARD_TARGET < carts:
        n *= 2
    return n


class SnapshotStore:
    """Snapshot documents and the sequence cursor of one CDC source (`<name>.<entity>`)."""

    def __init__(self, state: StateStore, source_key: str) -> None:
        self.state = state
        self.key = source_key
        self.sequence_key = f"cdc:{source_key}:sequence"

    def _shard_doc(self, generation: int, shard: int) -> str:
        return f"{self.key}.g{generation}.s{shard:05d}"

    def head(self) -> dict[str, Any] | None:
        return self.state.get_doc(COLLECTION, self.key)

    def load(self) -> dict[str, Entry] | None:
        """The last saved snapshot; None before the first poll (a cold start)."""
        head = self.head()
        if head is None:
            return None
        out: dict[str, Entry] = {}
        with bulk():
            for shard in range(int(head["shards"])):
                doc = self.state.get_doc(
                    COLLECTION, self._shard_doc(int(head["generation"]), shard)
                )
                for key, (digest, cart) in (doc or {}).get("carts", {}).items():
                    out[key] = (digest, cart)
        return out

    def save(
        self,
        carts: Mapping[str, Entry],
        changed: Iterable[str] | None,
        *,
        polled_at: datetime,
        sequence: int,
    ) -> None:
        """Store `carts` as the snapshot. `changed` names the carts that differ from the saved
        snapshot (None: unknown, rewrite every shard)."""
        head = self.head()
        shards = shard_count(len(carts))
        generation = 0 if head is None else int(head["generation"])
        same_layout = head is not None and int(head["shards"]) == shards
        if not same_layout and head is not None:
            generation += 1
        if same_layout and changed is not None:
            dirty = {shard_of(k, shards) for k in changed}
        else:
            dirty = set(range(shards))
        if dirty:
            docs: list[dict[str, list[Any]]] = [{} for _ in range(shards)]
            for key, (digest, cart) in carts.items():
                s = shard_of(key, shards)
                if s in dirty:
                    docs[s][key] = [digest, cart]
            for s in sorted(dirty):
                self.state.put_doc(COLLECTION, self._shard_doc(generation, s), {"carts": docs[s]})
        self.state.put_doc(
            COLLECTION,
            self.key,
            {
                "format": FORMAT,
                "generation": generation,
                "shards": shards,
                "carts": len(carts),
                "polled_at": polled_at.isoformat(),
                "sequence": sequence,
            },
        )
        if head is not None and not same_layout:
            old = int(head["generation"])
            for s in range(int(head["shards"])):
                self.state.delete_doc(COLLECTION, self._shard_doc(old, s))

    # Sequence ------------------------------------------------------------------------------
    def last_sequence(self) -> int:
        value = self.state.get_cursor(self.sequence_key)
        return int(value) if value else 0

    def reserve(self, n: int) -> int:
        """Reserve `n` sequence numbers before publishing; returns the first. A crash after this
        leaves a gap, never a number used twice."""
        first = self.last_sequence() + 1
        if n:
            self.state.set_cursor(self.sequence_key, str(first + n - 1))
        return first
