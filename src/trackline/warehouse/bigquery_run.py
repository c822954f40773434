"""The BigQuery warehouse, write side: a run works in a local DuckDB and commits to BigQuery.

The kernel, the dedup, the reports and the run record all run in DuckDB, as for the DuckDB
warehouse; here that DuckDB is a private working file, empty when the run starts and deleted
when it ends. Its transaction is never committed locally: `commit` publishes what the run
wrote, with a handful of API calls however many rows and partitions it holds:

- the contract's table, created through the API from the contract (columns, partitioning,
  clustering; `bigquery_ddl.table_schema`), gets the run's rows by one Parquet load job into a
  staging table and one MERGE that inserts only keys the table does not hold;
- `meta.rejected` likewise (MERGE on run, dataset, source file and line), `meta.runs` and the
  other metadata tables (`meta_<name>` in the same dataset) by a DELETE of the run's rows and
  one load; `meta_runs` last: a run whose record says `done` is in BigQuery whole.

Keys BigQuery already holds are found while the run loads (`mark_held`): each input's new
keys go up in one load job and one query counts those an earlier run holds; those rows are
relabelled in the working file, so the run's counts, reports and curated files say what
BigQuery really gained (a warehouse duplicate, as with DuckDB). A run that dies before its
commit leaves only a staging table behind (expiring in a day); its rerun has the same id, and
rows an interrupted commit had merged count as the run's own.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.runs.manifest import Manifest
from trackline.warehouse.bigquery import meta_table
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import cluster_fields, table_schema, time_partitioning
from trackline.warehouse.bigquery_stage import bq_type, merge_file, same_key, staged
from trackline.warehouse.duckdb import DuckDBWarehouse

log = logging.getLogger("trackline.warehouse")

HELD = "~bigquery"  # run_id of working rows whose key BigQuery already holds
# How each metadata table reaches BigQuery: merged on a key (a rerun adds nothing twice),
# replaced per run (a rerun's reports replace the interrupted one's), else appended.
META_KEYS = {"rejected": ["run_id", "dataset", "source_file", "source_line"]}
META_REPLACED = {"reports"}
META_READ = ("rejected", "reports")  # with runs: the tables `query`, `report`, the dashboard read


class BigQueryStaging(DuckDBWarehouse):
    """A run's working DuckDB whose `commit` publishes to BigQuery (`bigquery://P/D`)."""

    kind = "bigquery"

    def __init__(self, settings: Settings) -> None:
        self.bq = BigQuery(settings)
        self.target = self.bq.target
        work = Path(tempfile.mkdtemp(prefix="bigquery-run-", dir=_work_root(settings)))
        self.work = work
        super().__init__(work / "run.duckdb", settings)
        self.contracts: dict[str, Contract] = {}
        self._empty: dict[str, bool] = {}  # per table: BigQuery held no row when last asked
        self._checked: set[tuple[str, int]] = set()  # contract versions whose columns it has
        self.bq.ensure_dataset()
        self._existing = set(self.bq.list_tables())

    @property
    def uri(self) -> str:
        return self.target.uri

    # The run's tables ----------------------------------------------------------------------
    def ensure_table(self, contract: Contract, derived_types: dict[str, str]) -> None:
        """The working table, and the contract's table in BigQuery (created from the
        contract, or given the columns a newer contract version added)."""
        super().ensure_table(contract, derived_types)
        self.contracts[contract.name] = contract
        schema = table_schema(contract, derived_types)
        if contract.name not in self._existing:
            self.bq.create_table(
                contract.name,
                schema,
                partition=time_partitioning(contract),
                cluster=cluster_fields(contract),
            )
            self._existing.add(contract.name)
            self._empty[contract.name] = True
            self._checked.add((contract.name, contract.version))
            return
        if (contract.name, contract.version) in self._checked:
            return  # a stream's next micro-batch: asked once for the stream's life
        have = set(self.bq.table_columns(contract.name) or [])
        missing = [(n, t) for n, t, _ in schema if n not in have]
        if missing:
            self.bq.add_columns(contract.name, missing)
        self._checked.add((contract.name, contract.version))

    def _holds_rows(self, name: str) -> bool:
        if name not in self._empty:
            rows = self.bq.query(f"SELECT 1 AS x FROM `{self.target.table(name)}` LIMIT 1")
            self._empty[name] = rows.num_rows == 0
        return not self._empty[name]

    def mark_held(
        self,
        contract: Contract,
        run_id: str,
        where: str,
        params: dict[str, Any],
        *,
        any_run: bool = False,
    ) -> int:
        """Relabel this run's working rows (those matching `where`) whose key BigQuery holds
        from another run (with `any_run`, from any run: a stream's earlier batches); how
        many. One load job and one query (two when only some are)."""
        name = contract.name
        if not self._holds_rows(name):
            return 0
        table = f"main.{ident(name)}"
        keys = contract.key_columns
        scope = f"run_id = $run_id AND ({where})"
        args = {**params, "run_id": run_id}
        cols = ", ".join(ident(k) for k in keys)
        path = self.work / "keys.parquet"
        rows = self._export(f"SELECT rowid AS _row, {cols} FROM {table} WHERE {scope}", args, path)
        if rows == 0:
            return 0
        schema = [("_row", "INT64", "NULLABLE")] + [
            c for c in table_schema(contract, {}) if c[0] in keys
        ]
        with staged(self.bq, name, schema, path) as stage:
            other = "" if any_run else "t.run_id <> @run_id AND "
            held_sql = (
                f"FROM `{self.target.table(stage)}` k WHERE EXISTS (SELECT 1 FROM "
                f"`{self.target.table(name)}` t WHERE {other}{same_key(keys, 't', 'k')})"
            )
            held = int(
                self.bq.query(f"SELECT COUNT(*) AS n {held_sql}", {"run_id": run_id})
                .column("n")[0]
                .as_py()
            )
            if held == 0:
                return 0
            if held == rows:
                self.con.execute(f"UPDATE {table} SET run_id = '{HELD}' WHERE {scope}", args)
                return held
            found = self.bq.query(f"SELECT _row {held_sql}", {"run_id": run_id})
        self.con.register("held_rows", found)
        try:
            self.con.execute(
                f"UPDATE {table} SET run_id = '{HELD}' WHERE rowid IN (SELECT _row FROM held_rows)"
            )
        finally:
            self.con.unregister("held_rows")
        return held

    def previous(self, run_id: str) -> Manifest | None:
        """The manifest of the run with this id, if BigQuery records it done."""
        if meta_table("runs") not in self._existing:
            return None
        rows = self.bq.query(
            f"SELECT manifest FROM `{self.target.table(meta_table('runs'))}` "
            "WHERE run_id = @run_id AND status = 'done'",
            {"run_id": run_id},
        )
        if rows.num_rows == 0:
            return None
        return Manifest.model_validate_json(rows.column("manifest")[0].as_py())

    # Commit --------------------------------------------------------------------------------
    def commit(self) -> None:
        """Publish the transaction's rows to BigQuery, then drop them here (the working file
        stays empty: BigQuery is where the run is committed). Tables the transaction created
        in the working file go too: a caller that keeps this warehouse for another
        transaction (the stream) prepares its tables again; BigQuery's are not asked again."""
        try:
            for name, contract in self.contracts.items():
                table = f"main.{ident(name)}"
                self._merge(name, table, contract.key_columns, f"run_id <> '{HELD}'")
            self._publish_meta()
        finally:
            self.con.execute("ROLLBACK")
            # a table empty when asked is asked again by the next commit (a stream keeps
            # this warehouse open across micro-batches; another writer may fill it meanwhile)
            self._empty = {name: empty for name, empty in self._empty.items() if not empty}

    def publish_failures(self) -> None:
        """Failed-run records written outside a transaction (after a rollback) go up too."""
        rows = self.con.execute("SELECT count(*) FROM meta.runs WHERE status = 'failed'")
        found = rows.fetchone()
        if found and found[0]:
            self._upsert_runs("status = 'failed'")
            self.con.execute("DELETE FROM meta.runs WHERE status = 'failed'")

    def _publish_meta(self) -> None:
        tables = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'meta'"
        ).fetchall()
        names = sorted(str(t[0]) for t in tables if t[0] != "runs")
        for name in META_READ:  # readers query these: they exist, even empty
            self._ensure_meta(meta_table(name), f"meta.{ident(name)}")
        for name in names:
            found = self.con.execute(f"SELECT count(*) FROM meta.{ident(name)}").fetchone()
            if not found or not found[0]:
                continue
            source = f"meta.{ident(name)}"
            if name in META_KEYS:
                self._merge(meta_table(name), source, META_KEYS[name], "true")
            else:
                self._load(name, replace=name in META_REPLACED)
        self._upsert_runs("true")

    def _ensure_meta(self, name: str, source: str) -> None:
        if name in self._existing:
            return
        described = self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        schema = [(str(r[0]), *bq_type(str(r[1]))) for r in described]
        self.bq.create_table(name, schema)
        self._existing.add(name)

    def _merge(self, name: str, source: str, keys: list[str], where: str) -> None:
        """`source`'s rows (matching `where`) into BigQuery's `name`: only keys it lacks."""
        path = self.work / f"{name}.parquet"
        rows = self._export(f"SELECT * FROM {source} WHERE {where}", {}, path)
        if rows == 0:
            return
        self._ensure_meta(name, source)
        described = self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        schema = [(str(r[0]), *bq_type(str(r[1]))) for r in described]
        added = merge_file(self.bq, path, name, schema, keys)
        self._empty[name] = False
        if added != rows:
            log.warning(
                "bigquery.merge_short table=%s rows=%d added=%d: the other keys were there "
                "already (an interrupted commit of this run, or another writer)",
                name,
                rows,
                added,
            )

    def _load(self, name: str, *, replace: bool) -> None:
        """meta.<name>'s rows appended to BigQuery's; with `replace`, after deleting the rows
        there of the same runs."""
        source = f"meta.{ident(name)}"
        path = self.work / f"meta_{name}.parquet"
        self._export(f"SELECT * FROM {source}", {}, path)
        self._ensure_meta(meta_table(name), source)
        if replace:
            runs = self.con.execute(f"SELECT DISTINCT run_id FROM {source}").fetchall()
            self.bq.execute(
                f"DELETE FROM `{self.target.table(meta_table(name))}` "
                "WHERE run_id IN UNNEST(@runs)",
                {"runs": [str(r[0]) for r in runs]},
                step=f"replace rows of {meta_table(name)}",
            )
        self.bq.load_parquet(path, meta_table(name))

    def _upsert_runs(self, where: str) -> None:
        path = self.work / "meta_runs.parquet"
        source = "(SELECT * REPLACE (CAST(manifest AS VARCHAR) AS manifest) FROM meta.runs)"
        if self._export(f"SELECT * FROM {source} WHERE {where}", {}, path) == 0:
            return
        self._ensure_meta(meta_table("runs"), source)
        runs = self.con.execute(f"SELECT run_id FROM meta.runs WHERE {where}").fetchall()
        self.bq.execute(
            f"DELETE FROM `{self.target.table(meta_table('runs'))}` WHERE run_id IN UNNEST(@runs)",
            {"runs": [str(r[0]) for r in runs]},
            step="replace the run's record",
        )
        self.bq.load_parquet(path, meta_table("runs"))

    def _export(self, sql: str, params: dict[str, Any], path: Path) -> int:
        """`sql`'s rows into a Parquet file; how many."""
        target = str(path).replace("'", "''")
        found = self.con.execute(
            f"COPY ({sql}) TO '{target}' (FORMAT parquet)", params or None
        ).fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        try:
            self.publish_failures()
        except Exception:  # the run's own error (if any) matters more
            log.exception("bigquery.failure_record_not_published")
        finally:
            log.info("bigquery.calls target=%s calls=%d", self.target.uri, self.bq.calls)
            super().close()
            self.bq.close()
            shutil.rmtree(self.work, ignore_errors=True)


def _work_root(settings: Settings) -> Path:
    root = settings.home / "bigquery-work"
    root.mkdir(parents=True, exist_ok=True)
    return root
