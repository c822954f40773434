"""Bigtable serving store (official client, `trackline[gcp]`): one Bigtable table per serving
table, one column `d:v` per row, one version kept (a rewrite replaces the value).

URI: `bigtable://<project>/<instance>[?prefix=trackline_]`; credentials come from the
environment (Application Default Credentials), never from the URI. With
`BIGTABLE_EMULATOR_HOST` set, the client talks to the emulator with anonymous credentials and
nothing reaches Google. Tested against the Bigtable emulator of the Google Cloud CLI.

A table that does not exist reads as empty and is created (family `d`, one version) on the
first write, which needs the Bigtable admin role; without it, create the tables beforehand
(`<prefix>events`, `<prefix>daily`). Writes go in chunks of `CHUNK_ROWS` rows per
`MutateRows`. Calls keep the client's own retry (a broken `ReadRows` stream resumes after the
last row received, which no outer retry could do), bounded by `DEADLINE_SECONDS`; what still
fails is one `ServingError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from trackline.errors import ServingError, UsageError
from trackline.extras import require_extra

T = TypeVar("T")
FAMILY = "d"
COLUMN = b"v"
CHUNK_ROWS = 5_000
DEADLINE_SECONDS = 20.0


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


def _module(name: str) -> Any:
    return require_extra(name, "gcp", "the bigtable serving store")


class BigtableKV:
    def __init__(self, target: BigtableTarget) -> None:
        bigtable = _module("google.cloud.bigtable")
        self._filters = _module("google.cloud.bigtable.row_filters")
        self._families = _module("google.cloud.bigtable.column_family")
        self._errors = _module("google.api_core.exceptions")
        self._tables = _module("google.cloud.bigtable.table")
        self.target = target
        self.where = f"bigtable://{target.project}/{target.instance}"
        # the client warns "Connecting to Bigtable emulator" on stderr on each first call
        warnings.filterwarnings("ignore", "Connecting to Bigtable emulator", RuntimeWarning)
        try:
            client = bigtable.Client(project=target.project, admin=True)
        except Exception as exc:  # auth/config errors come in many types
            raise ServingError(
                f"cannot open Bigtable {self.where}: {exc}; check Application Default "
                "Credentials (or set BIGTABLE_EMULATOR_HOST for the emulator)"
            ) from None
        self.client = client
        self.instance = client.instance(target.instance)
        self._ready: set[str] = set()

    @classmethod
    def from_uri(cls, uri: str) -> BigtableKV:
        return cls(parse_uri(uri))

    def _table(self, table: str) -> Any:
        return self.instance.table(f"{self.target.prefix}{table}")

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except self._errors.GoogleAPICallError as exc:
            raise ServingError(f"Bigtable {what} on {self.where} failed: {exc.message}") from None
        except self._errors.RetryError as exc:
            cause = exc.cause if exc.cause is not None else exc
            raise ServingError(
                f"Bigtable {self.where} did not answer within {DEADLINE_SECONDS:.0f}s during "
                f"{what}: {cause}; check the network and credentials (BIGTABLE_EMULATOR_HOST "
                "for the emulator)"
            ) from None

    def _read_retry(self) -> Any:
        return self._tables.DEFAULT_RETRY_READ_ROWS.with_deadline(DEADLINE_SECONDS)

    def _write_retry(self) -> Any:
        return self._tables.DEFAULT_RETRY.with_deadline(DEADLINE_SECONDS)

    def _latest(self) -> Any:
        return self._filters.CellsColumnLimitFilter(1)

    def _create(self, table: str) -> None:
        """Create the table (family `d`, one version) unless it exists."""
        t = self._table(table)
        if table in self._ready:
            return
        if not self._call("table lookup", t.exists):
            rule = self._families.MaxVersionsGCRule(1)
            try:
                self._call("table creation", lambda: t.create(column_families={FAMILY: rule}))
            except ServingError:
                if not self._call("table lookup", t.exists):  # not a creation race: fail
                    raise
        self._ready.add(table)

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None:
        if not items:
            return
        self._create(table)
        t = self._table(table)
        for start in range(0, len(items), CHUNK_ROWS):
            rows = []
            for key, value in items[start : start + CHUNK_ROWS]:
                row = t.direct_row(key.encode())
                row.set_cell(FAMILY, COLUMN, value.encode())
                rows.append(row)
            write = partial(
                t.mutate_rows, rows, retry=self._write_retry(), timeout=DEADLINE_SECONDS
            )
            statuses = self._call("write", write)
            failed = [s for s in statuses if s.code != 0]
            if failed:
                raise ServingError(
                    f"Bigtable write to {self.where} failed for {len(failed)} of {len(rows)} "
                    f"rows: {failed[0].message}; write them again (rows are keyed: a rerun "
                    "replaces, never duplicates)"
                )

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        t = self._table(table)

        def run() -> list[tuple[str, str]]:
            rows = t.read_rows(
                start_key=start.encode(),
                end_key=stop.encode(),
                limit=limit,
                filter_=self._latest(),
                retry=self._read_retry(),
            )
            return [(r.row_key.decode(), r.cells[FAMILY][COLUMN][0].value.decode()) for r in rows]

        try:
            return self._call("scan", run)
        except ServingError:
            if self._missing(table):
                return []
            raise

    def get(self, table: str, key: str) -> str | None:
        t = self._table(table)

        def run() -> str | None:
            row = t.read_row(key.encode(), filter_=self._latest(), retry=self._read_retry())
            return None if row is None else str(row.cells[FAMILY][COLUMN][0].value.decode())

        try:
            return self._call("read", run)
        except ServingError:
            if self._missing(table):
                return None
            raise

    def _missing(self, table: str) -> bool:
        """True when the table does not exist (it reads as empty)."""
        return table not in self._ready and not self._call(
            "table lookup", self._table(table).exists
        )

    def drop(self, table: str) -> None:
        """Delete a table (tests and benchmarks clean up after themselves)."""
        t = self._table(table)
        if self._call("table lookup", t.exists):
            self._call("table deletion", t.delete)
        self._ready.discard(table)

    def close(self) -> None:
        self.client.close()
