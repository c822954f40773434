"""The dbt project's sources on BigQuery: the contract tables a dataset lacks, created empty."""

from __future__ import annotations

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import cluster_fields, table_schema, time_partitioning


def ensure_tables(
    settings: Settings, contracts: list[tuple[Contract, dict[str, str]]]
) -> list[str]:
    """Create the contracts' tables BigQuery lacks (and `groups`, empty: membership lives in
    the state store and is not copied to BigQuery), as the dbt project's sources; their
    names."""
    bq = BigQuery(settings)
    try:
        bq.ensure_dataset()
        have = set(bq.list_tables())
        created = []
        for contract, derived in contracts:
            if contract.name not in have:
                bq.create_table(
                    contract.name,
                    table_schema(contract, derived),
                    partition=time_partitioning(contract),
                    cluster=cluster_fields(contract),
                )
                created.append(contract.name)
        if "groups" not in have:
            columns = [("group_id", "STRING", "REQUIRED"), ("user_id", "STRING", "REQUIRED")]
            bq.create_table("groups", [*columns, ("added_at", "TIMESTAMP", "NULLABLE")])
        return created
    finally:
        bq.close()
