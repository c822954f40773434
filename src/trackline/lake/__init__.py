"""The lake: raw landing, curated Parquet, rejected rows, reports and manifests (design.md 3.4).

`store` is the lake root on any fsspec filesystem (paths, landing, documents, stored files);
`partitions` names Hive partition folders and writes partitioned Parquet, for every writer.
"""

from trackline.lake.store import Lake, StoredFile

__all__ = ["Lake", "StoredFile"]
