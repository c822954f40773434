"""Property: whatever is thrown at ingest, every record lands in exactly one place.

Random mixes of valid records, records with random values of random types, malformed JSON,
non-objects, bad encodings and duplicates go through the real engine; each run must satisfy
input = valid + rejected + duplicates, with the warehouse, the rejected area and the curated
lake agreeing with the counts, and nothing may crash.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackline.config import Settings
from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import builtin_contracts
from trackline.core import duck
from trackline.engines.local import LocalEngine

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONTRACT = builtin_contracts()["listening_events"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["play", " SKIP ", "US", "2026-05-01T10:00:00Z", "1e3", "", "\t"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def good(draw: st.DrawFn) -> dict[str, Any]:
    i = draw(st.integers(0, 30))  # small id space: duplicates happen
    return {
        "event_id": f"e{i}",
        "user_id": f"u{draw(st.integers(0, 3))}",
        "event_type": draw(st.sampled_from(["play", "skip", "Like "])),
        "song_id": f"s{draw(st.integers(0, 9))}",
        "timestamp": (NOW - timedelta(minutes=draw(st.integers(0, 10_000)))).isoformat(),
    }


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    rec = draw(good())
    for field in draw(st.lists(st.sampled_from(list(CONTRACT.fields)), max_size=4)):
        if draw(st.booleans()):
            rec.pop(field, None)
        else:
            rec[field] = draw(scalars)
    return rec


line = st.one_of(
    good().map(json.dumps),
    mutated().map(lambda r: json.dumps(r, allow_nan=True)),
    st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s),
    st.sampled_from(
        ['{"event_id": "x"', "[1,2]", "null", "42", '"str"', "{}", '{"event_id": "e1",}']
    ),
).map(lambda s: s.encode("utf-8"))
bad_bytes = st.sampled_from([b"\xff\xfe{bad}", b'{"event_id": "\xc3("}'])
lines = st.lists(st.one_of(line, line, line, bad_bytes), min_size=1, max_size=60)


def nonblank(raw: list[bytes]) -> int:
    return sum(1 for b in raw if b.strip(b" \t\r"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(lines, min_size=1, max_size=2))
def test_every_record_lands_in_exactly_one_place(batches: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        cfg = Settings.load(home=home / "home")
        engine = LocalEngine(cfg)
        seen_valid = seen_rejected = 0
        for n, raw in enumerate(batches):
            path = home / f"in{n}.ndjson"
            path.write_bytes(b"\n".join(raw) + b"\n")
            c = engine.ingest([str(path)], "listening_events", now=NOW, force=True).manifest.counts
            assert c.input == nonblank(raw)
            assert c.input == c.valid + c.rejected + c.duplicates
            seen_valid += c.valid
            seen_rejected += c.rejected
        con = duck.connect(cfg.warehouse, read_only=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            in_wh = (
                (con.execute("SELECT count(*) FROM listening_events").fetchone() or [0])[0]
                if "listening_events" in tables
                else 0
            )
            rejected = (con.execute("SELECT count(*) FROM meta.rejected").fetchone() or [0])[0]
            keys = (
                (
                    con.execute("SELECT count(DISTINCT event_id) FROM listening_events").fetchone()
                    or [0]
                )[0]
                if in_wh
                else 0
            )
        finally:
            con.close()
        assert in_wh == seen_valid == keys  # no key twice, across runs too
        curated = Path(cfg.lake) / "curated" / "listening_events"
        if in_wh:
            assert ds.dataset(curated, partitioning="hive").count_rows() == in_wh
        assert rejected == seen_rejected


@settings(max_examples=150, deadline=None)
@given(raw=st.lists(st.text(max_size=40), max_size=40))
def test_kernel_never_crashes_and_accounts(raw: list[str]) -> None:
    res = Kernel(CONTRACT).run(pa.table({"_raw": pa.array(raw, pa.string())}), now=NOW)
    assert res.total == len(raw)
    assert all(r for r in res.rejected["reasons"].to_pylist())
