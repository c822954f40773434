"""Serving store: per-user event timelines and daily aggregates read by key, the way a
Bigtable-backed app reads them, with an embedded default and Redis / Bigtable backends."""

from trackline.serving.base import ServingStore, open_store

__all__ = ["ServingStore", "open_store"]
