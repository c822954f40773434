"""Bigtable serving store (official client, `trackline[gcp]`): one Bigtable table per serving
table, one column `d:v` per row, one version kept (a rewrite replaces the value).

URI: `bigtable://<project>/<instance>[?prefix=trackline_]`; credentials come from the
environment (Application Default Credentials), never from the URI. With
`BIGTABLE_EMULATOR_HOST` set, the client talks to the emulator with anonymous credentials and
nothing reaches Google. Tested against the Bigtable emulator of the Google Cloud CLI.

Reads and writes use the client's data API (`google.cloud.bigtable.data`) with every call's
whole budget set to `DEADLINE_SECONDS`: its own retries run inside it (a broken `ReadRows`
stream resumes after the last row received, which no outer retry could do). The older
`Table.read_row`/`read_rows` wrappers ignore a given deadline for the operation as a whole
(600 s) and waited that long on a server that does not answer. What still fails is one
`ServingError`.

A table that does not exist reads as empty and is created (family `d`, one version) when a
write finds it missing, which needs the Bigtable admin role; without it, create the tables
beforehand (`<prefix>events`, `<prefix>daily`). Writes go in chunks of `CHUNK_ROWS` rows.
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
        self._data = _module("google.cloud.bigtable.data")
        self._families = _module("google.cloud.bigtable.column_family")
        self._errors = _module("google.api_core.exceptions")
        self.target = target
        self.where = f"bigtable://{target.project}/{target.instance}"
        # the client warns "Connecting to Bigtable emulator" on stderr on each first call
        warnings.filterwarnings("ignore", "Connecting to Bigtable emulator", RuntimeWarning)
        try:
            self.client = self._data.BigtableDataClient(project=target.project)
            self.admin = bigtable.Client(project=target.project, admin=True)
        except Exception as exc:  # auth/config errors come in many types
            raise ServingError(
                f"cannot open Bigtable {self.where}: {exc}; check Application Default "
                "Credentials (or set BIGTABLE_EMULATOR_HOST for the emulator)"
            ) from None
        self._open: dict[str, Any] = {}

    @classmethod
    def from_uri(cls, uri: str) -> BigtableKV:
        return cls(parse_uri(uri))

    def _name(self, table: str) -> str:
        return f"{self.target.prefix}{table}"

    def _table(self, table: str) -> Any:
        found = self._open.get(table)
        if found is None:
            found = self.client.get_table(
                self.target.instance,
                self._name(table),
                default_operation_timeout=DEADLINE_SECONDS,
                default_read_rows_operation_timeout=DEADLINE_SECONDS,
                default_mutate_rows_operation_timeout=DEADLINE_SECONDS,
            )
            self._open[table] = found
        return found

    def _admin_table(self, table: str) -> Any:
        return self.admin.instance(self.target.instance).table(self._name(table))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one client call; what fails becomes one ServingError (NotFound, a missing
        table, is raised as it is for the caller)."""
        errors = self._errors
        try:
            return fn()
        except errors.NotFound:
            raise
        except errors.DeadlineExceeded as exc:
            raise ServingError(
                f"Bigtable {self.where} did not answer within {DEADLINE_SECONDS:.0f}s during "
                f"{what}: {exc.message}; check the network and credentials "
                "(BIGTABLE_EMULATOR_HOST for the emulator)"
            ) from None
        except (errors.GoogleAPICallError, errors.RetryError) as exc:
            raise ServingError(f"Bigtable {what} on {self.where} failed: {exc}") from None
        except self._data.exceptions.MutationsExceptionGroup as exc:
            causes = [e.__cause__ or e for e in exc.exceptions]
            if causes and all(isinstance(c, errors.NotFound) for c in causes):
                raise causes[0] from None
            raise ServingError(
                f"Bigtable write to {self.where} failed for {len(causes)} rows: {causes[0]}; "
                "write them again (rows are keyed: a rerun replaces, never duplicates)"
            ) from None

    def _create(self, table: str) -> None:
        """Create the table (family `d`, one version); another writer creating it first is
        fine."""
        t = self._admin_table(table)
        rule = self._families.MaxVersionsGCRule(1)
        try:
            self._call("table creation", lambda: t.create(column_families={FAMILY: rule}))
        except (self._errors.AlreadyExists, ServingError):
            if not self._call("table lookup", t.exists):
                raise

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None:
        data = self._data
        for start in range(0, len(items), CHUNK_ROWS):
            entries = [
                data.RowMutationEntry(key.encode(), [data.SetCell(FAMILY, COLUMN, value.encode())])
                for key, value in items[start : start + CHUNK_ROWS]
            ]
            write = partial(self._table(table).bulk_mutate_rows, entries)
            try:
                self._call("write", write)
            except self._errors.NotFound:
                if start:
                    raise
                self._create(table)  # the first write to a new table
                self._call("write", write)

    def _latest(self) -> Any:
        return self._data.row_filters.CellsColumnLimitFilter(1)

    def _value(self, row: Any) -> str:
        return str(row.get_cells(FAMILY, COLUMN)[0].value.decode())

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        query = self._data.ReadRowsQuery(
            row_ranges=self._data.RowRange(start.encode(), stop.encode()),
            limit=limit,
            row_filter=self._latest(),
        )
        try:
            rows = self._call("scan", lambda: self._table(table).read_rows(query))
        except self._errors.NotFound:
            return []  # no table yet: nothing written
        return [(r.row_key.decode(), self._value(r)) for r in rows]

    def get(self, table: str, key: str) -> str | None:
        def read() -> Any:
            return self._table(table).read_row(key.encode(), row_filter=self._latest())

        try:
            row = self._call("read", read)
        except self._errors.NotFound:
            return None
        return None if row is None else self._value(row)

    def drop(self, table: str) -> None:
        """Delete a table (tests and benchmarks clean up after themselves)."""
        t = self._admin_table(table)
        if self._call("table lookup", t.exists):
            self._call("table deletion", t.delete)

    def close(self) -> None:
        for t in self._open.values():
            t.close()
        self.client.close()
        self.admin.close()
