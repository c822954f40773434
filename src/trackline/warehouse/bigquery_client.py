"""The BigQuery connection a warehouse uses: the official client, bounded, counted.

`bigquery://PROJECT/DATASET` names the dataset every trackline table goes to. With
`bigquery_endpoint` (`TRACKLINE_BIGQUERY_ENDPOINT`, an emulator) the client uses anonymous
credentials and that endpoint: nothing probes a metadata server or asks for a login. Every HTTP
request the client makes is counted (`calls`), so a test or benchmark can say what a run cost
in API calls. Every call has a deadline: a retrying client left alone waits ten minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from trackline.config import Settings
from trackline.errors import QueryError, TracklineError
from trackline.extras import require_extra
from trackline.redact import redact
from trackline.warehouse.bigquery_target import Target

# A job (load, query, DML) must finish within this; each HTTP request within the settings'
# `http_timeout_seconds`; retries of a failing request give up after RETRY_SECONDS.
JOB_SECONDS = 600.0
RETRY_SECONDS = 30.0


class BigQueryError(TracklineError):
    """A BigQuery call failed (the message names the step and BigQuery's reason)."""


def _param(name: str, value: Any) -> Any:
    from google.cloud import bigquery

    if isinstance(value, list | tuple):
        return bigquery.ArrayQueryParameter(name, "STRING", [str(v) for v in value])
    if isinstance(value, bool):
        kind = "BOOL"
    elif isinstance(value, int):
        kind = "INT64"
    elif isinstance(value, float):
        kind = "FLOAT64"
    elif isinstance(value, datetime):
        kind = "TIMESTAMP"
    elif isinstance(value, date):
        kind = "DATE"
    else:
        kind, value = "STRING", None if value is None else str(value)
    return bigquery.ScalarQueryParameter(name, kind, value)


class BigQuery:
    """One client for one warehouse dataset; `calls` counts its HTTP requests."""

    def __init__(self, settings: Settings) -> None:
        require_extra("google.cloud.bigquery", "gcp", "the BigQuery warehouse")
        from google.api_core.retry import Retry
        from google.cloud import bigquery

        self.target = Target.parse(settings.warehouse_uri or "")
        self.location = settings.bigquery_location
        self.timeout = settings.http_timeout_seconds
        self.calls = 0
        if settings.bigquery_endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            self.client = bigquery.Client(
                project=self.target.project,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options=ClientOptions(api_endpoint=settings.bigquery_endpoint),
                location=self.location,
            )
        else:
            self.client = bigquery.Client(project=self.target.project, location=self.location)
        self.retry = bigquery.DEFAULT_RETRY.with_deadline(RETRY_SECONDS)
        self.job_retry: Retry | None = None  # a failed job is reported, not run again
        http = self.client._http
        send = http.request

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return send(*args, **kwargs)

        http.request = counted

    # Datasets and tables -----------------------------------------------------------------
    def ensure_dataset(self) -> None:
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.target.project}.{self.target.dataset}")
        if self.location:
            dataset.location = self.location
        self._call(
            "create the dataset",
            self.client.create_dataset,
            dataset,
            exists_ok=True,
            timeout=self.timeout,
            retry=self.retry,
        )

    def list_tables(self) -> list[str]:
        dataset = f"{self.target.project}.{self.target.dataset}"
        tables = self._call(
            "list the tables",
            self.client.list_tables,
            dataset,
            timeout=self.timeout,
            retry=self.retry,
        )
        return [str(t.table_id) for t in self._call("list the tables", list, tables)]

    def table_columns(self, name: str) -> list[str] | None:
        """The table's column names, or None when it does not exist."""
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(
                self.target.table(name), timeout=self.timeout, retry=self.retry
            )
        except NotFound:
            return None
        except Exception as exc:
            raise self._error(f"read the table {name}", exc) from None
        return [f.name for f in table.schema]

    def create_table(
        self,
        name: str,
        schema: Sequence[tuple[str, str, str]],
        *,
        partition: tuple[str, str] | None = None,
        cluster: Sequence[str] = (),
        expires: datetime | None = None,
    ) -> None:
        """Create `name` (columns as (name, type, mode)), partitioned by (field, DAY|MONTH)
        and clustered as given; nothing happens when it exists."""
        from google.cloud import bigquery

        table = bigquery.Table(
            self.target.table(name),
            schema=[bigquery.SchemaField(n, t, mode=m) for n, t, m in schema],
        )
        if partition is not None:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=partition[1], field=partition[0]
            )
        if cluster:
            table.clustering_fields = list(cluster)
        if expires is not None:
            table.expires = expires
        self._call(
            f"create the table {name}",
            self.client.create_table,
            table,
            exists_ok=True,
            timeout=self.timeout,
            retry=self.retry,
        )

    def add_columns(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        """Add nullable columns (a newer contract version's) to an existing table."""
        from google.cloud import bigquery

        table = self.client.get_table(self.target.table(name), timeout=self.timeout)
        table.schema = [*table.schema, *(bigquery.SchemaField(n, t) for n, t in columns)]
        self._call(
            f"add columns to {name}",
            self.client.update_table,
            table,
            ["schema"],
            timeout=self.timeout,
            retry=self.retry,
        )

    def drop_table(self, name: str) -> None:
        self._call(
            f"drop the table {name}",
            self.client.delete_table,
            self.target.table(name),
            not_found_ok=True,
            timeout=self.timeout,
            retry=self.retry,
        )

    # Loads and queries ---------------------------------------------------------------------
    def load_parquet(self, path: Path, name: str, *, replace: bool = False) -> int:
        """One load job: a Parquet file into the table `name` (appended, or replacing its
        rows); the rows loaded."""
        from google.cloud import bigquery

        options = bigquery.ParquetOptions()  # type: ignore[no-untyped-call]
        options.enable_list_inference = True  # a list column is a REPEATED field
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition="WRITE_TRUNCATE" if replace else "WRITE_APPEND",
            parquet_options=options,
        )
        step = f"load rows into {name}"
        with path.open("rb") as f:
            job = self._call(
                step,
                self.client.load_table_from_file,
                f,
                self.target.table(name),
                job_config=config,
                timeout=self.timeout,
            )
        self._call(step, job.result, timeout=JOB_SECONDS, retry=self.retry)
        return int(job.output_rows or 0)

    def _job(self, sql: str, params: Mapping[str, Any] | None, step: str) -> Any:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[_param(k, v) for k, v in (params or {}).items()],
            default_dataset=f"{self.target.project}.{self.target.dataset}",
        )
        job = self._call(
            step,
            self.client.query,
            sql,
            job_config=config,
            timeout=self.timeout,
            retry=self.retry,
            job_retry=self.job_retry,
        )
        self._call(step, job.result, timeout=JOB_SECONDS, retry=self.retry)
        return job

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query; its rows (the REST API's pages, as Arrow)."""
        job = self._job(sql, params, "run a query")
        rows = self._call("read a query's rows", job.result, timeout=JOB_SECONDS, retry=self.retry)
        table: pa.Table = rows.to_arrow(create_bqstorage_client=False)
        return table

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, step: str = "") -> int:
        """Run a DML statement (or DDL); the rows it changed."""
        job = self._job(sql, params, step or "run a statement")
        return int(job.num_dml_affected_rows or 0)

    def statement_type(self, sql: str) -> str:
        """What kind of statement `sql` is, by a dry run (nothing is run)."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            dry_run=True,
            use_query_cache=False,
            default_dataset=f"{self.target.project}.{self.target.dataset}",
        )
        job = self._call(
            "check a query",
            self.client.query,
            sql,
            job_config=config,
            timeout=self.timeout,
            retry=self.retry,
            job_retry=None,
        )
        return str(job.statement_type or "")

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    # Errors ------------------------------------------------------------------------------
    def _call(self, step: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TracklineError:
            raise
        except Exception as exc:
            raise self._error(step, exc) from None

    def _error(self, step: str, exc: BaseException) -> TracklineError:
        from google.api_core import exceptions as gexc

        text = redact(getattr(exc, "message", None) or str(exc)).strip().splitlines()
        reason = text[0] if text else type(exc).__name__
        where = self.target.uri
        if isinstance(exc, gexc.BadRequest) and step in ("run a query", "check a query"):
            return QueryError(f"BigQuery refused the query ({where}): {reason}")
        return BigQueryError(f"BigQuery: could not {step} ({where}): {reason}")
