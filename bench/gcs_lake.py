"""Benchmark: an ingest into a `gs://` lake on the GCS emulator against the same ingest into a
local lake, and writing one Parquet file through gcsfs (the lake's path) against pyarrow's own
GcsFileSystem.

    .venv/bin/python bench/gcs_lake.py                   # 200k listens, a 64 MB Parquet file
    .venv/bin/python bench/gcs_lake.py --events 20000    # a quick check that it works

Needs the emulator (`bash scripts/services/gcs.sh`: fake-gcs-server on 127.0.0.1:9023, or
`STORAGE_EMULATOR_HOST`). Each ingest runs `trackline ingest` in its own process on a fresh
home; the counts of both must agree before any figure is printed. An emulator in memory on the
same machine measures trackline's and the clients' overhead, not GCS's network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

HOST = os.environ.get("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9023")


def _cli(home: Path, *args: str, lake: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(TRACKLINE_HOME=str(home), STORAGE_EMULATOR_HOST=HOST)
    if lake:
        env["TRACKLINE_LAKE_URI"] = lake
    proc = subprocess.run(
        [sys.executable, "-m", "trackline", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"trackline {' '.join(args)} failed: {proc.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _ingest(work: Path, src: Path, lake: str | None) -> tuple[float, dict[str, Any]]:
    home = work / f"home-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    run = _cli(home, "ingest", str(src), "--dataset", "listens", lake=lake)
    return time.perf_counter() - started, run


def _parquet_bytes(mb: int) -> bytes:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = mb * (1 << 20) // 16
    rng = np.random.default_rng(1)
    table = pa.table({"a": rng.integers(0, 1 << 62, rows), "b": rng.random(rows)})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none")
    return bytes(sink.getvalue().to_pybytes())


def _write_gcsfs(bucket: str, data: bytes) -> float:
    import gcsfs

    fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True)
    started = time.perf_counter()
    with fs.open(f"{bucket}/gcsfs.parquet", "wb") as f:
        f.write(data)
    return time.perf_counter() - started


def _write_pyarrow(bucket: str, data: bytes) -> float:
    import pyarrow.fs as pafs

    scheme, _, endpoint = HOST.partition("://")
    fs = pafs.GcsFileSystem(
        anonymous=True,
        endpoint_override=endpoint,
        scheme=scheme,
        retry_time_limit=timedelta(seconds=10),
    )
    started = time.perf_counter()
    with fs.open_output_stream(f"{bucket}/pyarrow.parquet") as out:
        out.write(data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--file-mb", type=int, default=64)
    args = parser.parse_args()
    os.environ["STORAGE_EMULATOR_HOST"] = HOST
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import gcsfs

    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True)
    fs.mkdir(bucket)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            src = work / "listens.ndjson"
            _cli(work / "gen", "generate", "listens", "--count", str(args.events),
                 "--invalid-share", "0.05", "--seed", "1", "--out", str(src))  # fmt: skip
            local_s, local = _ingest(work, src, None)
            gcs_s, gcs = _ingest(work, src, f"gs://{bucket}/lake")
            if local["counts"] != gcs["counts"]:
                sys.exit(f"counts differ: local {local['counts']} vs gcs {gcs['counts']}")
            fs.invalidate_cache()
            objects = len(fs.find(bucket))
            data = _parquet_bytes(args.file_mb)
            gcsfs_s = _write_gcsfs(bucket, data)
            pyarrow_s = _write_pyarrow(bucket, data)
    finally:
        fs.rm(bucket, recursive=True)
    mb = len(data) / (1 << 20)
    print(f"ingest {args.events} listens: local lake {local_s:.2f} s, gs:// (emulator) "
          f"{gcs_s:.2f} s ({gcs_s / local_s:.2f}x), {objects} objects; counts agree")  # fmt: skip
    print(f"one {mb:.0f} MB Parquet upload: gcsfs {gcsfs_s:.2f} s ({mb / gcsfs_s:.0f} MB/s), "
          f"pyarrow GcsFileSystem {pyarrow_s:.2f} s ({mb / pyarrow_s:.0f} MB/s)")  # fmt: skip


if __name__ == "__main__":
    main()
