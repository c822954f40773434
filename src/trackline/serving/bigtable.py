"""Bigtable serving store (official client, `trackline[gcp]`): one Bigtable table per serving
table, one column `d:v` per row. Not exercised against a server here: only the boundary
(URI parsing, a clear error without the client) is tested.

URI: `bigtable://<project>/<instance>[?prefix=trackline_]`; credentials come from the
environment (Application Default Credentials), never from the URI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from trackline.errors import ServingError, UsageError
from trackline.extras import require_extra

FAMILY = "d"
COLUMN = b"v"


@dataclass(frozen=True)
class BigtableTarget:
    project: str
    instance: str
    prefix: str = "trackline_"


def parse_uri(uri: str) -> BigtableTarget:
    parts = urlsplit(uri)
    instance = parts.path.strip("/")
    if parts.scheme != "bigtable" or not parts.netloc or not instance or "/" in instance:
        raise UsageError(f"invalid Bigtable URI {uri!r}; expected bigtable://<project>/<instance>")
    if parts.username or parts.password:
        raise UsageError("Bigtable credentials come from the environment, not the URI")
    prefix = parse_qs(parts.query).get("prefix", ["trackline_"])[0]
    return BigtableTarget(parts.netloc, instance, prefix)


def _bigtable() -> Any:
    return require_extra("google.cloud.bigtable", "gcp", "the bigtable serving store")


class BigtableKV:
    def __init__(self, target: BigtableTarget) -> None:
        bigtable = _bigtable()
        self.target = target
        client = bigtable.Client(project=target.project)
        self.instance = client.instance(target.instance)

    @classmethod
    def from_uri(cls, uri: str) -> BigtableKV:
        return cls(parse_uri(uri))

    def _table(self, table: str) -> Any:
        return self.instance.table(f"{self.target.prefix}{table}")

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None:
        t = self._table(table)
        rows = []
        for key, value in items:
            row = t.direct_row(key.encode())
            row.set_cell(FAMILY, COLUMN, value.encode())
            rows.append(row)
        for status in t.mutate_rows(rows):
            if status.code != 0:
                raise ServingError(f"bigtable write failed: {status.message}")

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        rows = self._table(table).read_rows(
            start_key=start.encode(), end_key=stop.encode(), limit=limit
        )
        return [(r.row_key.decode(), r.cells[FAMILY][COLUMN][0].value.decode()) for r in rows]

    def get(self, table: str, key: str) -> str | None:
        row = self._table(table).read_row(key.encode())
        return None if row is None else str(row.cells[FAMILY][COLUMN][0].value.decode())

    def close(self) -> None:
        return None
