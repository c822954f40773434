"""The local batch engine: accounting, idempotency, lake layout, crash safety."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from trackline.config import Settings
from trackline.core import duck
from trackline.engines.local import LocalEngine
from trackline.engines.stages import check, read
from trackline.errors import UsageError
from trackline.lake import Lake

NOW = datetime.now(UTC).replace(microsecond=0)


def event(i: int, **over: Any) -> dict[str, Any]:
    rec = {
        "event_id": f"e{i}",
        "user_id": f"u{i % 7}",
        "event_type": "play",
        "song_id": f"s{i % 13}",
        "genre": ["rock", "pop", "jazz"][i % 3],
        "country": ["US", "GB"][i % 2],
        "position_ms": 1000,
        "duration_ms": 200_000,
        "timestamp": (NOW - timedelta(hours=i)).isoformat(),
    }
    rec.update(over)
    return rec


def write_ndjson(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def table_rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def with_contract(tmp_path: Path, yaml: str) -> Settings:
    """Settings whose contracts folder holds one user contract (`yaml`, named by its `name`)."""
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "user.yaml").write_text(yaml)
    return Settings.load(home=tmp_path / "home", contracts_dir=contracts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


def test_mixed_formats_account_for_every_record(settings: Settings, tmp_path: Path) -> None:
    write_ndjson(
        tmp_path / "a.ndjson",
        [event(0), event(1), "{oops", event(2, genre=None), event(1), event(3, event_type="dance")],
    )
    csv = tmp_path / "b.csv"
    csv.write_text(
        "event_id,user_id,event_type,song_id,timestamp\n"
        f"e10,u1,play,s1,{NOW.isoformat()}\n"
        "e11,u1,play\n"  # wrong column count
        f"e12,u1,PLAY ,s2,{(NOW + timedelta(days=1)).isoformat()}\n"
    )
    pq.write_table(
        pa.table(
            {
                "event_id": ["e20", "e21"],
                "user_id": ["u1", None],
                "event_type": ["skip", "skip"],
                "song_id": ["s1", "s1"],
                "timestamp": pa.array([NOW, NOW], pa.timestamp("us", "UTC")),
            }
        ),
        tmp_path / "c.parquet",
    )
    (tmp_path / "d.json").write_text(json.dumps([event(30), event(0)]))

    result = LocalEngine(settings).ingest([str(tmp_path / "*.*")], "listening_events")
    # the inputs are hashed at once: each record still describes its own file, in order
    names = ["a.ndjson", "b.csv", "c.parquet", "d.json"]
    for rec, name in zip(result.manifest.inputs, names, strict=True):
        data = (tmp_path / name).read_bytes()
        assert rec.uri.endswith(name)
        assert (rec.sha256, rec.bytes) == (hashlib.sha256(data).hexdigest(), len(data))
    c = result.manifest.counts
    assert c.input == 6 + 3 + 2 + 2
    assert (c.valid, c.rejected, c.duplicates) == (6, 5, 2)
    assert c.duplicates_in_input == 2  # e1 twice in a.ndjson, e0 again in d.json
    assert c.rejected_by_reason == {
        "malformed": 2,
        "enum:event_type": 1,
        "not_future:timestamp": 1,
        "required:user_id": 1,
    }
    [(n,)] = table_rows(settings, "SELECT count(*) FROM listening_events")
    assert n == 6
    [(n,)] = table_rows(settings, "SELECT count(*) FROM meta.rejected")
    assert n == 5
    # the first occurrence of a duplicated key wins (file order, then line order)
    [(genre,)] = table_rows(settings, "SELECT genre FROM listening_events WHERE event_id='e0'")
    assert genre == "rock"
    # normalisation reached the warehouse
    assert table_rows(settings, "SELECT event_type FROM listening_events WHERE event_id='e10'") == [
        ("play",)
    ]


def test_lake_layout_manifest_and_reports(settings: Settings, tmp_path: Path) -> None:
    nd = write_ndjson(tmp_path / "ev.ndjson", [event(i) for i in range(60)] + ["{bad"])
    result = LocalEngine(settings).ingest([str(nd)], "listening_events")
    m = result.manifest
    lake = Lake(settings.lake)
    root = Path(settings.lake)
    day = m.started_at.strftime("%Y-%m-%d")
    landed = root / "raw" / "listening_events" / f"date={day}" / f"run_id={m.run_id}"
    assert (landed / "part-00000-ev.ndjson").read_bytes() == nd.read_bytes()
    curated = ds.dataset(root / "curated" / "listening_events", partitioning="hive")
    assert curated.count_rows() == m.counts.valid == 60
    days = {p.name for p in (root / "curated" / "listening_events").iterdir()}
    assert all(d.startswith("timestamp_day=") for d in days) and len(days) >= 3
    rejected = pq.read_table(
        root
        / "rejected"
        / "listening_events"
        / f"date={day}"
        / f"run_id={m.run_id}"
        / "part-00000.parquet"
    )
    assert rejected.to_pylist()[0]["record"] == "{bad"
    assert rejected.to_pylist()[0]["source_line"] == 61
    doc = lake.read_json(str(root / "manifests" / f"{m.run_id}.json"))
    assert doc["counts"]["input"] == 61 and doc["status"] == "done"
    assert doc["inputs"][0]["sha256"] == m.inputs[0].sha256
    assert sum(o["rows"] for o in doc["outputs"]["curated"]) == 60
    assert {"hash", "land", "validate", "dedup", "curated", "reports"} <= set(doc["timings"])
    for name in ("quality.json", "slices.json", "report.md", "report.html"):
        assert (root / "reports" / m.run_id / name).stat().st_size > 0
    slices = json.loads((root / "reports" / m.run_id / "slices.json").read_text())
    assert {"genre", "country", "device"} <= set(slices["slices"])


def test_same_inputs_twice_add_nothing_and_say_so(settings: Settings, tmp_path: Path) -> None:
    nd = write_ndjson(tmp_path / "ev.ndjson", [event(i) for i in range(20)])
    engine = LocalEngine(settings)
    first = engine.ingest([str(nd)], "listening_events")
    again = engine.ingest([str(nd)], "listening_events")
    assert again.skipped and again.manifest.run_id == first.manifest.run_id
    assert "nothing added" in again.message
    forced = engine.ingest([str(nd)], "listening_events", force=True)
    assert forced.manifest.run_id != first.manifest.run_id
    assert forced.manifest.counts.valid == 0
    assert forced.manifest.counts.duplicates_in_warehouse == 20
    # the same records arriving in a new file with one new record add exactly one row
    more = write_ndjson(tmp_path / "more.ndjson", [event(i) for i in range(21)])
    third = engine.ingest([str(more)], "listening_events")
    assert third.manifest.counts.valid == 1
    [(n,)] = table_rows(settings, "SELECT count(*) FROM listening_events")
    assert n == 21


def test_memory_lake_needs_no_code_change(tmp_path: Path) -> None:
    uri = f"memory://lake-{uuid.uuid4().hex}"
    settings = Settings.load(home=tmp_path / "home", lake_uri=uri)
    nd = write_ndjson(tmp_path / "ev.ndjson", [event(i) for i in range(10)])
    result = LocalEngine(settings).ingest([str(nd)], "listening_events")
    lake = Lake(uri)
    files = lake.fs.find(lake.path("curated", "listening_events"))
    assert files and all(f.endswith(".parquet") for f in files)
    assert result.paths["curated"].startswith("memory://")
    assert lake.exists(lake.path("manifests", f"{result.manifest.run_id}.json"))


def test_rejected_rows_reach_the_warehouse_the_same_from_any_lake(tmp_path: Path) -> None:
    # DuckDB reads a plain local rejected file itself; a remote lake, or a local path that
    # DuckDB would take for a glob, goes through pyarrow: the rows are the same
    nd = tmp_path / "ev.ndjson"
    good = [json.dumps(event(i)) for i in range(5)]
    nd.write_text("\n".join([*good, "{not json", json.dumps({**event(9), "device": "fax"})]))
    lakes = {
        "plain": None,
        "glob-like": str(tmp_path / "lake[1]"),
        "memory": f"memory://lake-{uuid.uuid4().hex}",
    }
    seen = {}
    for name, uri in lakes.items():
        extra = {} if uri is None else {"lake_uri": uri}
        settings = Settings.load(home=tmp_path / f"home-{name}", **extra)
        result = LocalEngine(settings).ingest([str(nd)], "listening_events")
        assert result.manifest.counts.rejected == 2
        seen[name] = table_rows(
            settings,
            "SELECT record, reasons, detail, source_line FROM meta.rejected ORDER BY source_line",
        )
    assert seen["plain"] == seen["glob-like"] == seen["memory"]
    assert [r[1] for r in seen["plain"]] == [["malformed"], ["enum:device"]]


def test_a_run_that_dies_leaves_no_rows_and_reruns(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nd = write_ndjson(tmp_path / "ev.ndjson", [event(i) for i in range(15)])

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full (injected)")

    with monkeypatch.context() as m:
        m.setattr(Lake, "write_json", boom)
        with pytest.raises(OSError):
            LocalEngine(settings).ingest([str(nd)], "listening_events")
    # rolled back: not even the table the run created is left
    assert table_rows(
        settings,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'listening_events'",
    ) == [(0,)]
    assert table_rows(settings, "SELECT status, error FROM meta.runs") == [
        ("failed", "OSError: disk full (injected)")
    ]
    # nor anything in the lake that claims the run: only the inputs' raw copies stay
    lake = Path(settings.lake)
    assert {p.relative_to(lake).parts[0] for p in lake.rglob("*") if p.is_file()} == {"raw"}
    result = LocalEngine(settings).ingest([str(nd)], "listening_events")
    assert result.manifest.counts.valid == 15 and not result.skipped
    assert table_rows(settings, "SELECT status FROM meta.runs") == [("done",)]


def test_first_occurrence_wins_across_many_batches_and_files(tmp_path: Path) -> None:
    """Rows reach the table in parallel; the kept duplicate must still be the earliest one."""
    settings = Settings.load(home=tmp_path / "home", batch_rows=50)
    n = 3000
    first = [event(i, device="mobile") for i in range(n)]
    repeats = [event(i, device="tv") for i in range(0, n, 3)]  # later copies, other device
    write_ndjson(tmp_path / "a.ndjson", first[: n // 2] + repeats[: len(repeats) // 2])
    write_ndjson(tmp_path / "b.ndjson", first[n // 2 :] + repeats)
    result = LocalEngine(settings).ingest(
        [str(tmp_path / "a.ndjson"), str(tmp_path / "b.ndjson")], "listening_events"
    )
    c = result.manifest.counts
    assert (c.input, c.valid, c.duplicates_in_input) == (n + len(repeats) * 3 // 2, n, c.duplicates)
    assert table_rows(settings, "SELECT device, count(*) FROM listening_events GROUP BY 1") == [
        ("mobile", n)
    ]


def _repeats_layout(tmp_path: Path, n: int = 3000) -> list[str]:
    first = [event(i, device="mobile") for i in range(n)]
    repeats = [event(i, device="tv") for i in range(0, n, 3)]  # later copies, other device
    write_ndjson(tmp_path / "a.ndjson", first[: n // 2] + repeats[: len(repeats) // 2])
    write_ndjson(tmp_path / "b.ndjson", first[n // 2 :] + repeats)
    return [str(tmp_path / "a.ndjson"), str(tmp_path / "b.ndjson")]


def test_key_hash_collisions_still_load_every_distinct_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeats are found by hash and confirmed by key: a hash shared by different keys (here
    every key of the same length) must not drop a row."""
    monkeypatch.setattr(check, "key_hash", lambda c: "hash(length(event_id))")
    settings = Settings.load(home=tmp_path / "home", batch_rows=50)
    n = 3000
    result = LocalEngine(settings).ingest(_repeats_layout(tmp_path, n), "listening_events")
    c = result.manifest.counts
    assert (c.valid, c.duplicates_in_input, c.duplicates_in_warehouse) == (n, n // 2, 0)
    assert table_rows(settings, "SELECT device, count(*) FROM listening_events GROUP BY 1") == [
        ("mobile", n)
    ]


def test_rows_out_of_order_fall_back_to_exact_dedup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DuckDB's IN-clause optimizer on, an enum check becomes a join and rows leave the
    kernel out of order: the engine must notice and still keep each key's first row."""
    from trackline.contracts import kernel

    def reordering(threads: int | None = None, memory_limit: str | None = None) -> Any:
        return duck.connect(threads=2, memory_limit=memory_limit)

    monkeypatch.setattr(kernel, "new_connection", reordering)
    settings = Settings.load(home=tmp_path / "home", batch_rows=50)
    n = 3000
    result = LocalEngine(settings).ingest(_repeats_layout(tmp_path, n), "listening_events")
    c = result.manifest.counts
    assert (c.valid, c.duplicates_in_input) == (n, n // 2)
    assert table_rows(settings, "SELECT device, count(*) FROM listening_events GROUP BY 1") == [
        ("mobile", n)
    ]


def test_rows_keep_their_source_file_and_line(settings: Settings, tmp_path: Path) -> None:
    a = write_ndjson(tmp_path / "a.ndjson", [event(0), "{oops", event(1)])
    b = write_ndjson(tmp_path / "b.ndjson", [event(1), event(2), event(3, country="usa")])
    result = LocalEngine(settings).ingest([str(a), str(b)], "listening_events")
    run = result.manifest.run_id
    assert table_rows(
        settings, "SELECT event_id, _source_file, _source_line FROM listening_events ORDER BY 1"
    ) == [("e0", str(a), 1), ("e1", str(a), 3), ("e2", str(b), 2)]
    assert table_rows(
        settings,
        f"SELECT source_file, source_line, reasons FROM meta.rejected WHERE run_id = '{run}' "
        "ORDER BY 1, 2",
    ) == [(str(a), 2, ["malformed"]), (str(b), 3, ["pattern:country"])]
    rejected = Path(settings.lake) / "rejected" / "listening_events"
    (path,) = rejected.rglob("*.parquet")
    assert pq.read_table(path).column("source_file").to_pylist() == [str(a), str(b)]


def test_out_of_order_batches_switch_dedup_to_the_slow_path() -> None:
    from trackline.contracts.loader import ContractRegistry
    from trackline.engines.sinks.repeats import Repeats
    from trackline.engines.sinks.warehouse import LINEAGE
    from trackline.engines.stages.settle import Dedup

    contract = ContractRegistry(None).get("listening_events")
    repeats = Repeats([*contract.output_columns, *LINEAGE])
    dedup = Dedup(contract, repeats)

    def batch(lines: list[int], keys: list[int]) -> pa.RecordBatch:
        n = len(lines)
        cols = {c: pa.nulls(n) for c in contract.output_columns}
        cols.update(
            _source_line=pa.array(lines, pa.int64()),
            _key_hash=pa.array(keys, pa.uint64()),
        )
        return pa.record_batch(cols)

    keep = dedup.keep(batch([3, 4], [1, 2]), pa.array([True, True]), "f")
    assert keep.to_pylist() == [True, True] and dedup.ordered
    keep = dedup.keep(batch([5, 6, 7], [1, 3, 9]), pa.array([True, True, False]), "f")
    assert keep.to_pylist() == [False, True, False]  # hash 1 seen: set aside, not loaded
    with repeats.read() as suspects:
        assert suspects is not None
        rows = suspects.read_all()
    assert rows.column("_source_line").to_pylist() == [5]
    assert rows.column("_source_file").to_pylist() == ["f"]
    assert rows.column("_order").to_pylist() == [2]  # its place in the run's stream
    keep = dedup.keep(batch([1, 2], [1, 3]), pa.array([True, True]), "f")  # earlier lines
    assert not dedup.ordered and not dedup.exact
    assert keep.to_pylist() == [True, True]  # loaded whole: repeats are settled by line
    repeats.abort()


def test_a_key_the_warehouse_holds_counts_every_copy_as_a_warehouse_duplicate(
    settings: Settings, tmp_path: Path
) -> None:
    engine = LocalEngine(settings)
    engine.ingest([str(write_ndjson(tmp_path / "a.ndjson", [event(1)]))], "listening_events")
    again = write_ndjson(tmp_path / "b.ndjson", [event(1), event(2), event(1), event(2)])
    c = engine.ingest([str(again)], "listening_events").manifest.counts
    assert (c.valid, c.duplicates_in_warehouse, c.duplicates_in_input) == (1, 2, 1)
    assert table_rows(settings, "SELECT count(*) FROM listening_events") == [(2,)]


# Curated Parquet written on the way (engines/sinks/curated.py) -----------------------------
def curated_keys(settings: Settings, run_id: str, table: str = "listening_events") -> list[str]:
    """Event ids in the curated lake for one run (every file, so leftovers show up)."""
    root = Path(settings.lake) / "curated" / table
    data = ds.dataset(root, partitioning="hive").to_table()
    rows = data.filter(pa.compute.equal(data.column("run_id"), run_id))
    return sorted(rows.column(rows.schema.names[0]).to_pylist())


def warehouse_keys(settings: Settings, run_id: str, table: str = "listening_events") -> list[str]:
    key = "event_id" if table == "listening_events" else "id"
    return sorted(
        r[0] for r in table_rows(settings, f"SELECT {key} FROM {table} WHERE run_id = '{run_id}'")
    )


def test_curated_files_hold_exactly_the_rows_loaded(settings: Settings, tmp_path: Path) -> None:
    engine = LocalEngine(settings)
    rows = [event(i) for i in range(40)] + [event(3), event(5, position_ms=-1), "{bad"]
    first = engine.ingest([str(write_ndjson(tmp_path / "a.ndjson", rows))], "listening_events")
    m = first.manifest
    assert curated_keys(settings, m.run_id) == warehouse_keys(settings, m.run_id)
    assert len(warehouse_keys(settings, m.run_id)) == m.counts.valid == 40
    # same schema as the table (lineage left out), the run's id and time on every row
    part = pq.read_table(m.outputs["curated"][0].path)
    [(cols,)] = table_rows(
        settings,
        "SELECT list(column_name ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_name = 'listening_events' AND column_name NOT LIKE '\\_source%' ESCAPE '\\'",
    )
    assert part.schema.names == cols
    assert set(part.column("run_id").to_pylist()) == {m.run_id}
    assert set(part.column("ingestion_time").to_pylist()) == {m.started_at}
    assert sum(o.rows or 0 for o in m.outputs["curated"]) == m.counts.valid


def test_rows_the_warehouse_already_held_stay_out_of_the_curated_files(
    settings: Settings, tmp_path: Path
) -> None:
    """Rows kept on the way but left out by the load (keys of an earlier run) must not reach
    the lake: the engine notices and exports from the table instead."""
    engine = LocalEngine(settings)
    engine.ingest(
        [str(write_ndjson(tmp_path / "a.ndjson", [event(i) for i in range(0, 30, 2)]))],
        "listening_events",
    )
    second = engine.ingest(
        [str(write_ndjson(tmp_path / "b.ndjson", [event(i) for i in range(30)]))],
        "listening_events",
    )
    run_id = second.manifest.run_id
    assert second.manifest.counts.valid == 15
    assert curated_keys(settings, run_id) == warehouse_keys(settings, run_id)
    assert len({o.path for o in second.manifest.outputs["curated"]}) == len(
        second.manifest.outputs["curated"]
    )
    for o in second.manifest.outputs["curated"]:
        assert Path(o.path).is_file()


def test_rows_loaded_late_or_out_of_order_reach_the_curated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hash collisions load some rows after the stream (late); both must be in the lake."""
    monkeypatch.setattr(check, "key_hash", lambda c: "hash(length(event_id))")
    settings = Settings.load(home=tmp_path / "home", batch_rows=50)
    result = LocalEngine(settings).ingest(_repeats_layout(tmp_path, 600), "listening_events")
    run_id = result.manifest.run_id
    assert result.manifest.counts.valid == 600
    assert curated_keys(settings, run_id) == warehouse_keys(settings, run_id)


@pytest.mark.parametrize(
    ("partition", "rows"),
    [
        # a NULL month: the sink does not name NULL partitions
        ("month(at)", [{"id": "a", "at": "2026-01-02T00:00:00Z"}, {"id": "b"}]),
        # a partition on a column itself (identity), with a value holding a blank
        ("team", [{"id": "a", "team": "red"}, {"id": "b", "team": "blue team"}, {"id": "c"}]),
    ],
)
def test_partitions_the_sink_will_not_name_go_the_table_route(
    tmp_path: Path, partition: str, rows: list[dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_contract(
        tmp_path,
        f"name: teams\nversion: 1\nprimary_key: [id]\npartition_by: [{partition}]\n"
        "fields:\n  id: {type: string, required: true}\n  team: {type: string}\n"
        "  at: {type: timestamp}\n",
    )
    caplog.set_level("INFO", logger="trackline.engine")
    result = LocalEngine(settings).ingest([str(write_ndjson(tmp_path / "t.ndjson", rows))], "teams")
    run_id = result.manifest.run_id
    assert result.manifest.counts.valid == len(rows)
    assert curated_keys(settings, run_id, "teams") == warehouse_keys(settings, run_id, "teams")
    assert f"curated.table_route run_id={run_id}" in caplog.text
    folder = partition.replace("month(at)", "at_month")
    assert {
        p.name.split("=")[0] for p in (Path(settings.lake) / "curated" / "teams").iterdir()
    } == {folder}


@pytest.mark.parametrize(
    ("times", "route", "days"),
    [
        # before the epoch with a time of day, at midnight, a year below 1000: the sink names
        # these days itself, exactly as DuckDB would
        (
            ["1969-12-31T23:30:00Z", "1970-01-01T00:00:00Z", "0900-03-01T10:00:00Z"],
            "sink",
            {"1969-12-31", "1970-01-01", "0900-03-01"},
        ),
        # a day Python's dates cannot name (year 0 is 1 BC): the table route names it
        (
            ["0000-06-01T00:00:00Z", "2026-01-02T10:00:00Z"],
            "table",
            {"0001-06-01%20%28BC%29", "2026-01-02"},
        ),
    ],
)
def test_day_partitions_are_named_the_same_by_the_sink_and_the_table_route(
    tmp_path: Path,
    times: list[str],
    route: str,
    days: set[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = with_contract(
        tmp_path,
        "name: moments\nversion: 1\nprimary_key: [id]\npartition_by: [day(at)]\n"
        "fields:\n  id: {type: string, required: true}\n  at: {type: timestamp}\n",
    )
    caplog.set_level("INFO", logger="trackline.engine")
    rows = [{"id": f"m{i}", "at": t} for i, t in enumerate(times)]
    result = LocalEngine(settings).ingest(
        [str(write_ndjson(tmp_path / "m.ndjson", rows))], "moments"
    )
    run_id = result.manifest.run_id
    assert result.manifest.counts.valid == len(rows)
    assert curated_keys(settings, run_id, "moments") == warehouse_keys(settings, run_id, "moments")
    assert (f"curated.table_route run_id={run_id}" in caplog.text) == (route == "table")
    root = Path(settings.lake) / "curated" / "moments"
    assert {p.name for p in root.iterdir()} == {f"at_day={d}" for d in days}


@pytest.mark.parametrize("fast", [True, False])
def test_derived_columns_get_the_types_duckdb_gives_their_expressions(
    tmp_path: Path, fast: bool
) -> None:
    """The table's derived columns are typed from the checked stream itself (no second look
    at the program), on the fast read and the general one."""
    settings = with_contract(
        tmp_path,
        "name: sums\nversion: 1\nprimary_key: [id]\n"
        "fields:\n  id: {type: string, required: true}\n  n: {type: int64}\n"
        "  seen: {type: timestamp}\n"
        "derived:\n  half: n / 2\n  next: n + 1\n  day: CAST(seen AS DATE)\n"
        "  label: upper(id)\n",
    ).model_copy(update={"ndjson_fast_read": fast})
    rows = [{"id": "a", "n": 3, "seen": "2026-01-02T10:00:00Z"}]
    LocalEngine(settings).ingest([str(write_ndjson(tmp_path / "s.ndjson", rows))], "sums")
    types = dict(
        table_rows(
            settings,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'sums'",
        )
    )
    assert {c: types[c] for c in ("half", "next", "day", "label")} == {
        "half": "DOUBLE",
        "next": "BIGINT",
        "day": "DATE",
        "label": "VARCHAR",
    }
    assert table_rows(settings, "SELECT half, next, day, label FROM sums") == [
        (1.5, 4, date(2026, 1, 2), "A")
    ]


def trackline_threads() -> list[str]:
    """The engine's worker threads still alive (after a short wait for those stopping)."""
    deadline = time.monotonic() + 5
    while True:
        alive = [t.name for t in threading.enumerate() if t.name.startswith("trackline-")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


@pytest.mark.parametrize("fast_read", [True, False])
def test_a_run_found_done_by_its_hash_drops_the_check_started_ahead(
    tmp_path: Path, fast_read: bool
) -> None:
    """The first file is checked while the inputs are hashed; when the hash says the run was
    done, that check is dropped: nothing added, nothing left running."""
    settings = Settings.load(home=tmp_path / "home", ndjson_fast_read=fast_read, batch_rows=8)
    paths = [
        str(
            write_ndjson(
                tmp_path / f"ev{n}.ndjson",
                [*(event(i) for i in range(n * 40, n * 40 + 40)), "{bad"],
            )
        )
        for n in range(3)
    ]
    first = LocalEngine(settings).ingest(paths, "listening_events")
    assert (first.manifest.counts.valid, first.manifest.counts.rejected) == (120, 3)
    again = LocalEngine(settings).ingest(paths, "listening_events")
    assert again.skipped and again.manifest.run_id == first.manifest.run_id
    assert table_rows(settings, "SELECT count(*) FROM listening_events") == [(120,)]
    assert table_rows(settings, "SELECT count(*) FROM meta.rejected") == [(3,)]
    assert table_rows(settings, "SELECT status FROM meta.runs") == [("done",)]
    assert trackline_threads() == []


def test_no_input_files_is_a_usage_error(settings: Settings) -> None:
    with pytest.raises(UsageError, match="no input files"):
        LocalEngine(settings).ingest([], "listening_events")


def _outcome(settings: Settings, run_id: str) -> tuple[Any, ...]:
    rows = table_rows(
        settings,
        "SELECT * EXCLUDE (ingestion_time, run_id, _source_file) FROM listening_events "
        "ORDER BY _source_line",
    )
    rejected = table_rows(
        settings,
        f"SELECT record, reasons, detail, source_line FROM meta.rejected WHERE run_id = "
        f"'{run_id}' ORDER BY source_line",
    )
    return rows, rejected


def _both_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: list[Path]
) -> tuple[list[str], list[Any]]:
    """Ingest `paths` with the fast read on, then off (fresh homes): the files DuckDB was
    asked to read itself, and each run's counts, rows and rejected rows."""
    from trackline.contracts.kernel import Kernel

    used: list[str] = []
    file_program = Kernel.file_program
    monkeypatch.setattr(
        Kernel, "file_program", lambda self, p: used.append(p) or file_program(self, p)
    )
    outcomes = []
    for fast in (True, False):
        settings = Settings.load(home=tmp_path / f"home-{fast}")
        settings.ndjson_fast_read = fast
        result = LocalEngine(settings).ingest([str(p) for p in paths], "listening_events", now=NOW)
        outcomes.append(
            (result.manifest.counts.model_dump(), _outcome(settings, result.manifest.run_id))
        )
    return used, outcomes


@pytest.mark.parametrize("small", [False, True], ids=["one-batch", "small-batches"])
def test_the_fast_ndjson_read_gives_what_the_general_reader_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool
) -> None:
    """DuckDB's read_json path: same rows, same rejected text, reasons and lines; also when
    the rejected rows of several batches are gathered before their text is read."""
    if small:
        monkeypatch.setenv("TRACKLINE_BATCH_ROWS", "4")
        monkeypatch.setattr(read, "REJECTED_BATCH_ROWS", 3)
    lines: list[Any] = [event(i) for i in range(30)]
    lines[3] = '{"event_id": "x", bad json'
    lines[5] = "[1, 2]"
    lines[7] = "{}"
    lines[9] = '{"other": 1}'
    lines[11] = event(0)  # a repeat
    lines[13] = event(13, position_ms="abc")
    lines[15] = json.dumps(event(15)) + " trailing"
    lines[17] = "null"
    nd = tmp_path / "ev.ndjson"
    nd.write_bytes(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\r\n" for r in lines).encode()
        + b'{"event_id": "\xff"}\n'
    )
    used, outcomes = _both_reads(tmp_path, monkeypatch, [nd])
    assert used == [str(nd)]  # the first run read fast, the second did not
    assert outcomes[0] == outcomes[1]
    counts, (_, rejected) = outcomes[0]
    assert counts["rejected"] == 8 and counts["duplicates"] == 1
    assert {r[3] for r in rejected} == {4, 6, 8, 10, 14, 16, 18, 31}


def test_a_fast_read_that_disagrees_is_read_again_in_full(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackline.sources.readers.ndjson_fast import LineScan

    nd = write_ndjson(tmp_path / "ev.ndjson", [event(i) for i in range(20)] + ["{bad"])
    monkeypatch.setattr(LineScan, "lines", property(lambda self: self.newlines + 1))
    result = LocalEngine(settings).ingest([str(nd)], "listening_events", now=NOW)
    c = result.manifest.counts
    assert (c.valid, c.rejected) == (20, 1)
    assert table_rows(settings, "SELECT status, count(*) FROM meta.runs GROUP BY 1") == [
        ("done", 1)
    ]
    curated = Lake(settings.lake).path("curated", "listening_events")
    assert ds.dataset(curated, format="parquet", partitioning="hive").count_rows() == 20


def test_files_that_read_differently_take_the_general_path_in_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blank line (DuckDB skips it) sends its file to the general reader, even the first
    file, which starts on the fast read while it is hashed; the other files stay fast."""
    blank = tmp_path / "a_blank.ndjson"
    blank.write_text(
        json.dumps(event(1)) + "\n\n" + json.dumps(event(2)) + "\n{bad\n" + json.dumps(event(3))
    )
    clean = write_ndjson(tmp_path / "b_clean.ndjson", [event(i) for i in range(4, 9)] + ["[]"])
    used, outcomes = _both_reads(tmp_path, monkeypatch, [blank, clean])
    assert used == [str(blank), str(clean)]  # the first was started fast, then restarted
    assert outcomes[0] == outcomes[1]
    counts, (rows, rejected) = outcomes[0]
    assert (counts["valid"], counts["rejected"]) == (8, 2)
    assert [r[3] for r in rejected] == [4, 6]  # physical lines: the blank one counts
    assert [r[-1] for r in rows] == sorted([1, 3, 5, 1, 2, 3, 4, 5])  # lines of both files


def test_a_field_named_ordinality_keeps_the_general_reader(tmp_path: Path) -> None:
    """The fast read numbers lines `WITH ORDINALITY`, a column this field would clash with."""
    settings = with_contract(
        tmp_path,
        "name: steps\nversion: 1\nprimary_key: [id]\n"
        "fields:\n  id: {type: string, required: true}\n  ordinality: {type: int64}\n",
    )
    rows = [{"id": "a", "ordinality": 7}, {"id": "b", "ordinality": "x"}]
    result = LocalEngine(settings).ingest([str(write_ndjson(tmp_path / "s.ndjson", rows))], "steps")
    assert (result.manifest.counts.valid, result.manifest.counts.rejected) == (1, 1)
    assert table_rows(settings, "SELECT id, ordinality FROM steps") == [("a", 7)]


def test_checking_ahead_under_a_small_memory_limit_loses_and_reorders_nothing(
    tmp_path: Path,
) -> None:
    """The fast read checks the first file ahead, into a share of the memory limit, while the
    inputs hash: with many small batches and a small limit the rows, their lines and the
    rejected rows are the general read's, and the lead ends with the run."""
    rows: list[Any] = [event(i) for i in range(400)]
    for i in range(0, 400, 37):
        rows[i] = event(i, device="fax")
    rows[5] = "{bad"
    path = write_ndjson(tmp_path / "events.ndjson", rows)
    outcomes = []
    for fast in (True, False):
        settings = Settings.load(
            home=tmp_path / f"home-{fast}",
            duckdb_memory_limit="256MB",
            ndjson_fast_read=fast,
            batch_rows=16,
        )
        result = LocalEngine(settings).ingest([str(path)], "listening_events", now=NOW)
        outcomes.append(
            (result.manifest.counts.model_dump(), _outcome(settings, result.manifest.run_id))
        )
    assert outcomes[0] == outcomes[1]
    counts, (loaded, rejected) = outcomes[0]
    assert (counts["valid"], counts["rejected"]) == (388, 12)
    assert [r[-1] for r in loaded] == [
        n for n in range(1, 401) if n not in {r[3] for r in rejected}
    ]
    assert trackline_threads() == []
