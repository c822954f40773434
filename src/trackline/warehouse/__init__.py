"""Warehouses: where validated rows become tables (design.md 3.5). DuckDB by default."""

from trackline.warehouse.base import Warehouse, open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
