"""The dbt project's sources on BigQuery: the contract tables a dataset lacks, created empty."""

from __future__ import annotations

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import cluster_fields, table_schema, time_partitioning
from trackline.warehouse.bigquery_groups import GROUPS, ensure_groups_table


def ensure_tables(
    settings: Settings, contracts: list[tuple[Contract, dict[str, str]]]
) -> list[str]:
    """Create the contracts' tables BigQuery lacks (and `meta_groups`, group membership,
    which `analytics.members.sync` fills from the state store), as the dbt project's
    sources; their names."""
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
        if GROUPS not in have:
            ensure_groups_table(bq)
        return created
    finally:
        bq.close()
