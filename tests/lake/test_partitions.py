"""Partitioned Parquet: folders named as DuckDB names them, every row in its partition,
memory bounded, on any lake."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.lake.gcs_emulator import Bucket
from trackline.core import duck
from trackline.lake import Lake, partitions
from trackline.lake.partitions import PartitionWriter


def batches(n: int, size: int, days: int) -> list[pa.RecordBatch]:
    """Rows spread over `days` partitions in no order (row i goes to day i*7 mod days)."""
    out = []
    for start in range(0, n, size):
        ids = list(range(start, min(n, start + size)))
        out.append(
            pa.record_batch(
                {
                    "id": pa.array(ids, pa.int64()),
                    "day": pa.array([f"2026-01-{1 + (i * 7) % days:02d}" for i in ids]),
                    "kind": pa.array(["a" if i % 2 else "b" for i in ids]),
                }
            )
        )
    return out


def small_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: list[str], **limits: int
) -> PartitionWriter:
    """A writer into `tmp_path`/lake/t with some of the module's limits set small."""
    for name, value in limits.items():
        monkeypatch.setattr(partitions, name, value)
    lake = Lake(str(tmp_path / "lake"))
    return PartitionWriter(lake, lake.path("t"), columns, "part-r1-{i}.parquet")


def test_rows_land_in_their_partition_in_order_with_bounded_buffers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = small_writer(
        tmp_path,
        monkeypatch,
        ["day", "kind"],
        ROW_GROUP_ROWS=50,
        BUFFERED_ROWS=120,
        MAX_OPEN_FILES=4,
    )
    peak = 0
    for b in batches(3000, 97, days=9):
        writer.add(b)
        peak = max(peak, writer.buffered_rows)
    files = writer.close()
    assert peak <= 120
    assert sum(f.rows or 0 for f in files) == 3000
    for f in files:  # size and hash taken while writing: those of the file on disk
        body = Path(f.path).read_bytes()
        assert (f.bytes, f.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    # more partitions (18) than open files (4): partitions went on in new files
    assert len(files) > 18
    data = ds.dataset(tmp_path / "lake" / "t", partitioning="hive").to_table()
    rows = sorted(zip(*(data.column(c).to_pylist() for c in ("id", "day", "kind")), strict=True))
    assert rows == [
        (i, f"2026-01-{1 + (i * 7) % 9:02d}", "a" if i % 2 else "b") for i in range(3000)
    ]
    for f in files:  # within a file, rows keep their input order; partition columns left out
        t = pq.read_table(f.path)
        assert t.schema.names == ["id"]
        ids = t.column("id").to_pylist()
        assert ids == sorted(ids)
        assert pq.ParquetFile(f.path).metadata.num_row_groups >= 1


def test_no_partitions_is_one_file(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = PartitionWriter(lake, lake.path("t"), [], "part-r1-{i}.parquet")
    for b in batches(500, 64, days=3):
        writer.add(b)
    [f] = writer.close()
    assert f.path.endswith("t/part-r1-0.parquet") and f.rows == 500


def test_dictionary_only_for_columns_whose_values_repeat(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = PartitionWriter(lake, lake.path("t"), ["day"], "part-r1-{i}.parquet")
    n = 1000
    writer.add(
        pa.record_batch(
            {
                "id": pa.array([f"id-{i:06d}" for i in range(n)]),  # every value distinct
                "kind": pa.array(["a" if i % 3 else "b" for i in range(n)]),
                "day": pa.array(["2026-01-01"] * n),
            }
        )
    )
    (f,) = writer.close()
    meta = pq.ParquetFile(f.path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(2)}
    assert "RLE_DICTIONARY" in encodings["kind"]
    assert "RLE_DICTIONARY" not in encodings["id"]
    assert pq.read_table(f.path).column("id").to_pylist() == [f"id-{i:06d}" for i in range(n)]


def test_partitions_arriving_in_runs_are_split_at_the_runs(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = PartitionWriter(lake, lake.path("t"), ["day"], "part-r1-{i}.parquet")
    # rows in event-time order: each batch holds a few whole runs of days, and a day may
    # go on in the next batch
    for start in range(0, 1000, 300):
        ids = list(range(start, min(1000, start + 300)))
        writer.add(
            pa.record_batch(
                {
                    "id": pa.array(ids, pa.int64()),
                    "day": pa.array([f"2026-01-{1 + i // 70:02d}" for i in ids]),
                }
            )
        )
    files = writer.close()
    data = ds.dataset(tmp_path / "lake" / "t", partitioning="hive").to_table()
    got = sorted(zip(data.column("id").to_pylist(), data.column("day").to_pylist(), strict=True))
    assert got == [(i, f"2026-01-{1 + i // 70:02d}") for i in range(1000)]
    for f in files:
        ids = pq.read_table(f.path).column("id").to_pylist()
        assert ids == sorted(ids)


def event_time_batches(days: int, per_day: int, size: int) -> list[pa.RecordBatch]:
    """Rows in event-time order, `per_day` a day, in batches of `size`."""
    out = []
    for start in range(0, days * per_day, size):
        ids = list(range(start, min(days * per_day, start + size)))
        out.append(
            pa.record_batch(
                {
                    "id": pa.array(ids, pa.int64()),
                    "day": pa.array([f"2026-01-{1 + i // per_day:02d}" for i in ids]),
                }
            )
        )
    return out


def late_row() -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array([-1], pa.int64()), "day": ["2026-01-01"]})


def test_past_a_few_open_files_a_partition_left_behind_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def most_open(days: int) -> tuple[PartitionWriter, int]:
        writer = small_writer(
            tmp_path / f"d{days}",
            monkeypatch,
            ["day"],
            KEEP_OPEN_FILES=3,
            ROW_GROUP_ROWS=30,
            BUFFERED_ROWS=100,
        )
        peak = 0
        for b in event_time_batches(days, per_day=50, size=40):
            writer.add(b)
            peak = max(peak, writer.open_files)
        return writer, peak

    days = 20
    writer, peak = most_open(days)
    # open files stay bounded, not growing with the number of days seen
    assert peak < days and most_open(2 * days)[1] == peak
    # a late row for the first day, long closed: it goes on in a file of its own
    writer.add(late_row())
    files = writer.close()
    first_day = sorted(f.rows or 0 for f in files if "day=2026-01-01" in f.path)
    assert len(files) == days + 1 and first_day == [1, 50]
    data = ds.dataset(tmp_path / f"d{days}" / "lake" / "t", partitioning="hive").to_table()
    got = sorted(zip(data.column("id").to_pylist(), data.column("day").to_pylist(), strict=True))
    assert got == sorted(
        [(i, f"2026-01-{1 + i // 50:02d}") for i in range(days * 50)] + [(-1, "2026-01-01")]
    )


def test_a_few_partitions_stay_open_and_a_late_row_joins_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = small_writer(tmp_path, monkeypatch, ["day"], ROW_GROUP_ROWS=30, BUFFERED_ROWS=100)
    days = 3
    for b in event_time_batches(days, per_day=50, size=40):
        writer.add(b)
    writer.add(late_row())  # the first day's, long idle: its file is still open
    files = writer.close()
    assert len(files) == days
    [first] = [f for f in files if "day=2026-01-01" in f.path]
    assert first.rows == 51


def test_plain_columns_are_written_without_compression(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    writer = PartitionWriter(lake, lake.path("t"), ["day"], "part-r1-{i}.parquet", plain=["id"])
    for b in batches(200, 50, days=2):
        writer.add(b)
    files = writer.close()
    assert len(files) == 2
    for f in files:
        meta = pq.ParquetFile(f.path).metadata
        codecs = {
            meta.schema.column(i).name: meta.row_group(0).column(i).compression
            for i in range(meta.num_columns)
        }
        assert codecs == {"id": "UNCOMPRESSED", "kind": "SNAPPY"}
        assert not meta.row_group(0).column(0).is_stats_set  # id: no min/max
        assert meta.row_group(0).column(1).statistics.has_min_max
    assert sum(pq.read_table(f.path).num_rows for f in files) == 200


# Folder names and the query export -----------------------------------------------------
ODD_VALUES = [
    "2026-01-02",
    "a b",
    "x/y",
    "k=v",
    "50%",
    "é",
    "a~b",
    "(BC)",
    "tab\tx",
    "",
    "NULL",
    "__HIVE_DEFAULT_PARTITION__",
    None,
]


def folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_the_arrow_writer_names_folders_as_duckdb_does(tmp_path: Path) -> None:
    """The curated files of one dataset come from DuckDB's COPY and from `PartitionWriter`:
    the same value must name the same folder."""
    table = pa.table({"v": ODD_VALUES, "i": list(range(len(ODD_VALUES)))})
    con = duck.connect()
    con.register("t", table)
    con.execute(
        f"COPY (SELECT * FROM t) TO '{tmp_path / 'duck'}' (FORMAT parquet, PARTITION_BY (v))"
    )
    lake = Lake(str(tmp_path / "lake"))
    writer = PartitionWriter(lake, lake.path("arrow"), ["v"], "part-{i}.parquet")
    writer.add(table.to_batches()[0])
    files = writer.close()
    assert folders(tmp_path / "lake" / "arrow") == folders(tmp_path / "duck")
    assert len(files) == len(ODD_VALUES)
    # and they read back as the values they hold
    back = ds.dataset(tmp_path / "lake" / "arrow", partitioning="hive").to_table()
    assert sorted(back.column("i").to_pylist()) == list(range(len(ODD_VALUES)))
    assert partitions.folder(["a", "b"], ("x y", None)) == "a=x%20y/b=__HIVE_DEFAULT_PARTITION__"


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_query_exports_partitioned_and_rewrites_its_own_files(tmp_path: Path, where: str) -> None:
    lake = Lake(str(tmp_path / "lake") if where == "local" else f"memory://lake-{uuid.uuid4().hex}")
    con = duck.connect()
    con.register(
        "t",
        pa.table({"v": [1, 2, 3, 4], "day": ["2026-01-01", "2026-01-01", "a b", None]}),
    )
    base = lake.path("curated", "d")
    for _ in range(2):  # the same run written twice replaces its own files
        files = partitions.export(
            con, "SELECT * FROM t", {}, lake, base, ["day"], "part-r1-{i}.parquet"
        )
    assert sum(f.rows or 0 for f in files) == 4
    found = sorted(lake.fs.find(base))
    assert len(found) == len(files) == 3
    names = {p.split("/")[-2] for p in found}
    assert names == {"day=2026-01-01", "day=a%20b", "day=__HIVE_DEFAULT_PARTITION__"}
    for f in files:
        with lake.fs.open(f.path, "rb") as fh:
            body = fh.read()
        assert (f.bytes, f.sha256) == (len(body), hashlib.sha256(body).hexdigest())
        with lake.fs.open(f.path, "rb") as fh:
            assert pq.read_table(fh).column_names == ["v"]  # the partition is the folder


def test_no_partitions_exports_one_file(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    con = duck.connect()
    files = partitions.export(
        con, "SELECT range AS v FROM range(10)", {}, lake, lake.path("t"), [], "part-r1-{i}.parquet"
    )
    assert [(Path(f.path).name, f.rows) for f in files] == [("part-r1-0.parquet", 10)]


def test_an_abandoned_write_publishes_nothing_on_gcs(bucket: Bucket) -> None:
    lake = Lake(bucket.uri())
    writer = partitions.PartitionWriter(
        lake, lake.path("curated", "d"), ["day"], "part-{i}.parquet"
    )
    rows = partitions.ROW_GROUP_ROWS + 10  # a full row group: the file is open and written
    writer.add(pa.record_batch({"day": ["a"] * rows, "x": list(range(rows))}))
    assert writer.open_files == 1
    writer.abandon()
    assert bucket.versions() == {}  # not even a noncurrent version of a partial file
    kept = partitions.PartitionWriter(lake, lake.path("curated", "d"), ["day"], "part-{i}.parquet")
    kept.add(pa.record_batch({"day": ["a"] * 3, "x": [1, 2, 3]}))
    assert [f.rows for f in kept.close()] == [3]
    assert bucket.objects() == ["lake/curated/d/day=a/part-0.parquet"]
