"""Redis serving store: per table, a sorted set of row keys (all score 0, so ZRANGEBYLEX scans
them in key order like a Bigtable range read) and a hash from key to value.

URI: `redis://[:password@]host:port/db[?prefix=trackline]`. Needs `trackline[redis]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from trackline.errors import ServingError
from trackline.extras import require_extra


def _client(uri: str) -> Any:
    redis = require_extra("redis", "redis", "the redis serving store")
    return redis.Redis.from_url(uri, decode_responses=True, socket_timeout=10)


class RedisKV:
    def __init__(self, client: Any, prefix: str = "trackline:serving") -> None:
        self.r = client
        self.prefix = prefix

    @classmethod
    def from_uri(cls, uri: str) -> RedisKV:
        parts = urlsplit(uri)
        prefix = parse_qs(parts.query).get("prefix", ["trackline:serving"])[0]
        clean = uri.split("?", 1)[0]
        return cls(_client(clean), prefix)

    def _keys(self, table: str) -> str:
        return f"{self.prefix}:{table}:keys"

    def _values(self, table: str) -> str:
        return f"{self.prefix}:{table}:values"

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # redis raises its own hierarchy; name it and move on
            if type(exc).__module__.startswith("redis"):
                raise ServingError(f"redis {what} failed: {exc}") from None
            raise

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None:
        if not items:
            return

        def run() -> None:
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(self._values(table), mapping=dict(items))
            pipe.zadd(self._keys(table), {k: 0 for k, _ in items})
            pipe.execute()

        self._call("write", run)

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        def run() -> list[tuple[str, str]]:
            found = self.r.zrangebylex(self._keys(table), f"[{start}", f"({stop}", 0, limit)
            if not found:
                return []
            values = self.r.hmget(self._values(table), found)
            return [(k, v) for k, v in zip(found, values, strict=True) if v is not None]

        result: list[tuple[str, str]] = self._call("scan", run)
        return result

    def get(self, table: str, key: str) -> str | None:
        value = self._call("read", lambda: self.r.hget(self._values(table), key))
        return None if value is None else str(value)

    def drop(self, table: str) -> None:
        """Delete a table (tests and benchmarks clean up after themselves)."""
        self._call("delete", lambda: self.r.delete(self._keys(table), self._values(table)))

    def close(self) -> None:
        self.r.close()
