"""The BigQuery warehouse's pure parts: URIs, SQL translation, the read-only check, schemas.

No server here; the emulator tests are in test_bigquery_emulator.py.
"""

from __future__ import annotations

import pytest

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.errors import ConfigError, QueryError
from trackline.warehouse.base import open_warehouse
from trackline.warehouse.bigquery import is_query, to_bigquery
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import cluster_fields, table_schema, time_partitioning
from trackline.warehouse.bigquery_target import Target

T = Target("proj-1", "lake_ds")


def test_uri_names_project_and_dataset() -> None:
    assert Target.parse("bigquery://proj-1/lake_ds") == T
    assert Target.parse("bigquery://proj-1/lake_ds/").table("orders") == "proj-1.lake_ds.orders"
    for bad in ("bigquery://proj-1", "bigquery:///ds", "bigquery://p/d-x", "bigquery://p/d;x"):
        with pytest.raises(ConfigError, match="bigquery://PROJECT/DATASET"):
            Target.parse(bad)


def test_warehouse_uri_picks_the_backend(tmp_path: object) -> None:
    assert Settings.load(warehouse_uri="bigquery://p/d").warehouse_kind == "bigquery"
    duck = Settings.load(warehouse_uri="duckdb:///data/wh.duckdb")
    assert (duck.warehouse_kind, str(duck.warehouse)) == ("duckdb", "/data/wh.duckdb")
    with pytest.raises(ConfigError, match="unknown warehouse URI"):
        _ = Settings.load(warehouse_uri="postgres://x/y").warehouse_kind


def test_portable_sql_becomes_bigquery_sql_on_the_dataset() -> None:
    sql = to_bigquery(
        "SELECT r.run_id, count(*) AS n FROM meta.runs r JOIN main.orders o USING (run_id) "
        "JOIN listens l ON true WHERE starts_with(r.run_id, $p) GROUP BY 1 LIMIT $limit",
        T,
    )
    assert "`proj-1`.lake_ds.meta_runs" in sql
    assert "`proj-1`.lake_ds.orders" in sql and "`proj-1`.lake_ds.listens" in sql
    assert "@p" in sql and "@limit" in sql and "$" not in sql
    assert "STARTS_WITH" in sql


def test_cte_names_and_other_datasets_are_left_alone() -> None:
    sql = to_bigquery("WITH x AS (SELECT 1 AS a) SELECT * FROM x, other.tbl", T)
    assert "FROM x" in sql and "other.tbl" in sql and "lake_ds.x" not in sql


def test_only_one_reading_statement_counts_as_a_query() -> None:
    assert is_query("SELECT 1")
    assert is_query("WITH a AS (SELECT 1) SELECT * FROM a UNION ALL SELECT 2")
    for sql in (
        "DELETE FROM orders",
        "DROP TABLE orders",
        "SELECT 1; DROP TABLE orders",
        "INSERT INTO orders SELECT * FROM orders",
        "CREATE TABLE x AS SELECT 1",
        "not sql at all (",
    ):
        assert not is_query(sql), sql
    with pytest.raises(QueryError, match="exactly one"):
        to_bigquery("SELECT 1; SELECT 2", T)


def test_tables_follow_the_contract_partitioning_and_clustering() -> None:
    contracts = ContractRegistry()
    expected = {
        "orders": (("order_date", "DAY"), ["status"]),
        "inventory": (("timestamp", "DAY"), ["reason"]),
        "user_activity": (("timestamp", "DAY"), ["activity_type"]),
    }
    for name, (partition, cluster) in expected.items():
        c = contracts.get(name)
        assert time_partitioning(c) == partition and cluster_fields(c) == cluster
        schema = {n: (t, m) for n, t, m in table_schema(c, {})}
        assert schema["ingestion_time"] == ("TIMESTAMP", "REQUIRED")
        assert schema["run_id"] == ("STRING", "REQUIRED")
        assert schema["_source_line"] == ("INT64", "NULLABLE")
    orders = {n: t for n, t, _ in table_schema(contracts.get("orders"), {"net_amount": "DOUBLE"})}
    assert orders["net_amount"] == "FLOAT64" and orders["order_date"] == "TIMESTAMP"


def test_an_emulator_endpoint_means_anonymous_credentials_and_no_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from google.auth.credentials import AnonymousCredentials

    # No credentials anywhere: the default lookup would fail (or probe a metadata server).
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # a probe would hang or fail here
    settings = Settings.load(
        warehouse_uri="bigquery://proj-1/lake_ds", bigquery_endpoint="http://127.0.0.1:9"
    )
    bq = BigQuery(settings)
    try:
        assert isinstance(bq.client._credentials, AnonymousCredentials)
        assert bq.client._connection.API_BASE_URL == "http://127.0.0.1:9"
        assert bq.calls == 0  # nothing was asked of any server
    finally:
        bq.close()


def test_open_warehouse_reads_the_configured_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.load(
        warehouse_uri="bigquery://proj-1/lake_ds", bigquery_endpoint="http://127.0.0.1:9"
    )
    wh = open_warehouse(settings, read_only=True)
    try:
        assert wh.name == "bigquery"
    finally:
        wh.close()
