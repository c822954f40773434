"""Warehouse models: the shipped dbt project (bronze -> silver -> gold, music marts) and the
code that runs it offline on the local DuckDB warehouse (`trackline model`)."""
