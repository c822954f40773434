"""Rows into a BigQuery table through the Storage Write API, one atomic commit per call.

`Appender.append(table, batches)` makes one PENDING write stream, appends the Arrow batches
at explicit offsets (a resent batch is refused, never written twice), finalizes the stream and
commits it with BatchCommitWriteStreams: the rows appear in the table all at once, or not at
all. The batches go as `arrow_rows` (the writer schema as Arrow IPC, each batch as an IPC
record batch), cast first to the table's own types as the API's Arrow mapping says.

With `bigquery_storage_endpoint` (an emulator's host:port) the client talks plain gRPC with
no credentials; unset, it reaches Google with the application's default credentials. Every
call has a deadline: a server that never answers fails the call, it does not hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trackline.config import Settings
from trackline.extras import require_extra
from trackline.redact import redact
from trackline.warehouse.bigquery_client import BigQueryError
from trackline.warehouse.bigquery_target import Target

# BigQuery's column types as the Arrow types the Storage Write API takes for them.
ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOL": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
    "NUMERIC": pa.decimal128(38, 9),
    "BYTES": pa.binary(),
    "JSON": pa.string(),
}
GOOGLE = "bigquerystorage.googleapis.com"
REQUEST_BYTES = 4 << 20  # rows per AppendRows request: well under the API's 10 MB cap


class StorageWriteError(BigQueryError):
    """A Storage Write API call failed, or the rows do not fit the table."""


@dataclass(frozen=True)
class WriteTarget:
    """Where the appender writes: plain strings (a Beam DoFn carries it to its workers)."""

    project: str
    dataset: str
    endpoint: str | None = None  # host:port of an emulator's gRPC; None = Google's
    timeout: float = 30.0  # seconds, per call

    @classmethod
    def from_settings(cls, settings: Settings) -> WriteTarget:
        target = Target.parse(settings.warehouse_uri or "")
        return cls(
            target.project,
            target.dataset,
            settings.bigquery_storage_endpoint,
            max(settings.http_timeout_seconds, 1.0),
        )

    @property
    def uri(self) -> str:
        return f"bigquery://{self.project}/{self.dataset}"

    def table_path(self, table: str) -> str:
        return f"projects/{self.project}/datasets/{self.dataset}/tables/{table}"


class Appender:
    """One Storage Write API client; `append` commits a set of batches to one table."""

    def __init__(self, target: WriteTarget) -> None:
        require_extra("google.cloud.bigquery_storage_v1", "gcp", "the Storage Write API")
        import importlib

        # the client and grpc come untyped: one Any each, not an ignore per call
        storage: Any = importlib.import_module("google.cloud.bigquery_storage_v1")
        self.target = target
        self.channel: Any = None
        if target.endpoint:
            grpc: Any = importlib.import_module("grpc")
            transports: Any = importlib.import_module(
                "google.cloud.bigquery_storage_v1.services.big_query_write.transports"
            )
            self.channel = grpc.insecure_channel(target.endpoint)
            transport = transports.BigQueryWriteGrpcTransport(channel=self.channel)
            self.client: Any = storage.BigQueryWriteClient(transport=transport)
        else:
            self.client = storage.BigQueryWriteClient()

    def append(self, table: str, batches: Sequence[pa.Table | pa.RecordBatch]) -> int:
        """Commit the rows of `batches` to `table` in one PENDING stream; the rows added."""
        from google.cloud.bigquery_storage_v1 import types

        parts = [b for b in batches if b.num_rows]
        if not parts:
            return 0
        parent = self.target.table_path(table)
        stream = self._call(
            table,
            "open a write stream",
            self.client.create_write_stream,
            parent=parent,
            write_stream=types.WriteStream(type_=types.WriteStream.Type.PENDING),
        )
        schema = writer_schema(table, pa.schema(parts[0].schema), stream.table_schema, self.target)
        rows = [fit(table, b, schema, self.target) for b in parts]
        sent = self._append(table, stream.name, schema, rows)
        finalize = self.client.finalize_write_stream
        done = self._call(table, "finalize the write stream", finalize, name=stream.name)
        if int(done.row_count) != sent:
            raise self._fail(table, f"the stream holds {done.row_count} rows, {sent} were sent")
        result = self._call(
            table,
            "commit the write stream",
            self.client.batch_commit_write_streams,
            retried=False,  # a commit is not sent twice: the second one would fail
            request=types.BatchCommitWriteStreamsRequest(
                parent=parent, write_streams=[stream.name]
            ),
        )
        if result.stream_errors:
            raise self._fail(table, f"the commit failed: {result.stream_errors[0].error_message}")
        return sent

    def _append(self, table: str, name: str, schema: pa.Schema, rows: list[pa.Table]) -> int:
        """Every batch on one AppendRows connection, each at its offset; the rows sent."""
        from google.cloud.bigquery_storage_v1 import types

        requests: list[Any] = []
        offset = 0
        for t in rows:
            # an append request is capped (10 MB): batches of a few MB each
            per = max(1, t.num_rows * REQUEST_BYTES // max(t.nbytes, 1))
            for batch in t.to_batches(max_chunksize=per):
                data = types.AppendRowsRequest.ArrowData(
                    rows=types.ArrowRecordBatch(
                        serialized_record_batch=batch.serialize().to_pybytes()
                    )
                )
                if not requests:  # the schema travels once per connection
                    data.writer_schema = types.ArrowSchema(
                        serialized_schema=schema.serialize().to_pybytes()
                    )
                requests.append(
                    types.AppendRowsRequest(write_stream=name, offset=offset, arrow_rows=data)
                )
                offset += batch.num_rows
        # the routing header the service needs (the client sends an empty one on a streaming
        # call; its own AppendRowsStream adds this one)
        metadata = (("x-goog-request-params", f"write_stream={name}"),)
        # no retry of the connection: a half-sent one is not resumed; the caller tries again
        # with a new stream (the Beam bundle's retry)
        deadline = self.target.timeout + len(requests)

        def responses() -> list[Any]:
            calls = self.client.append_rows(
                iter(requests), retry=None, timeout=deadline, metadata=metadata
            )
            return list(calls)

        answers = self._call(table, "append rows", responses)
        if len(answers) != len(requests):
            raise self._fail(table, f"{len(answers)} answers to {len(requests)} appends")
        for answer in answers:
            if answer.error.code:
                raise self._fail(table, f"rows refused: {answer.error.message}")
            if answer.row_errors:
                first = answer.row_errors[0]
                raise self._fail(table, f"row {first.index} refused: {first.message}")
        return offset

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        else:
            self.client.transport.close()

    def _call(self, table: str, step: str, fn: Any, *, retried: bool = True, **kwargs: Any) -> Any:
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry, if_exception_type

        if kwargs:  # a unary call: its deadline, and retries only while the service is busy
            busy = if_exception_type(gexc.ServiceUnavailable, gexc.TooManyRequests)
            retry = Retry(predicate=busy, timeout=self.target.timeout) if retried else None
            kwargs = {**kwargs, "timeout": self.target.timeout, "retry": retry}
        try:
            return fn(**kwargs)
        except StorageWriteError:
            raise
        except gexc.NotFound:
            raise StorageWriteError(
                f"BigQuery Storage Write API: the table {table} does not exist in "
                f"{self.target.uri}: create it first (the stream creates its tables when "
                "it starts; check warehouse_uri)"
            ) from None
        except gexc.DeadlineExceeded:
            raise StorageWriteError(
                f"BigQuery Storage Write API: no answer to '{step}' for {table} within "
                f"{self.target.timeout:g} s ({self._where()}): check the endpoint is up"
            ) from None
        except Exception as exc:
            raise self._fail(table, f"could not {step}: {_reason(exc)}") from None

    def _where(self) -> str:
        return self.target.endpoint or GOOGLE

    def _fail(self, table: str, what: str) -> StorageWriteError:
        return StorageWriteError(
            f"BigQuery Storage Write API ({self.target.uri}, table {table}, {self._where()}): "
            f"{what}"
        )


def writer_schema(table: str, have: pa.Schema, fields: Any, target: WriteTarget) -> pa.Schema:
    """The Arrow schema the rows go up in: the batch's columns in the table's own types;
    a column the table lacks, or a required one the rows lack, refused here."""
    from google.cloud.bigquery_storage_v1 import types

    by_name = {f.name: f for f in fields.fields}
    extra = [n for n in have.names if n not in by_name]
    if extra:
        raise StorageWriteError(
            f"BigQuery Storage Write API ({target.uri}): the table {table} has no column "
            f"{', '.join(extra)}: add it to the table (or leave it out of the rows)"
        )
    required = types.TableFieldSchema.Mode.REQUIRED
    missing = [n for n, f in by_name.items() if f.mode == required and n not in have.names]
    if missing:
        raise StorageWriteError(
            f"BigQuery Storage Write API ({target.uri}): the rows for {table} lack the "
            f"required column(s) {', '.join(missing)}"
        )
    out = []
    for name in have.names:
        f = by_name[name]
        kind = types.TableFieldSchema.Type(f.type_).name
        arrow = ARROW_TYPES.get(kind)
        if arrow is None:
            raise StorageWriteError(
                f"BigQuery Storage Write API ({target.uri}): {table}.{name} is {kind}, "
                "a type trackline does not write"
            )
        if f.mode == types.TableFieldSchema.Mode.REPEATED:
            arrow = pa.list_(arrow)
        out.append(pa.field(name, arrow, nullable=f.mode != required))
    return pa.schema(out)


def fit(table: str, rows: pa.Table | pa.RecordBatch, schema: pa.Schema, target: WriteTarget) -> Any:
    """`rows` cast to `schema` (no null in a required column)."""
    data = pa.Table.from_batches([rows]) if isinstance(rows, pa.RecordBatch) else rows
    try:
        data = data.select(schema.names)
        for f in schema:
            if not f.nullable and data.column(f.name).null_count:
                raise ValueError(f"{f.name} is required and has empty values")
        return data.cast(schema)
    except (KeyError, ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StorageWriteError(
            f"BigQuery Storage Write API ({target.uri}): rows for {table} do not fit its "
            f"columns: {_reason(exc)}"
        ) from None


def _reason(exc: BaseException) -> str:
    text = redact(getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__
