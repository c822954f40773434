"""Scheduling the flow: an Airflow DAG factory (`airflow`), Dagster assets (`dagster`), both
calling the same steps (`flow`). The orchestrators are extras; nothing here imports them at
package import."""
