"""Property: whatever is thrown at ingest, every record lands in exactly one place, and the
records whose fate is known land where they must.

Random mixes of valid records, records with random values of random types, malformed JSON,
non-objects, bad encodings and duplicates go through the real engine; each run must satisfy
input = valid + rejected + duplicates, with the warehouse, the rejected area and the curated
lake agreeing with the counts, and nothing may crash. Among them are records whose fate is
known: known-good ones (each must be valid, once), exact repeats of those (each a duplicate)
and known-good ones with one injected defect (each rejected with that defect's reason and no
other). A kernel that rejects everything, or accepts everything, fails here.
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


def known_good(draw: st.DrawFn) -> dict[str, Any]:
    """A record every part of the contract accepts (its id is given by its place)."""
    return {
        "user_id": f"u{draw(st.integers(0, 3))}",
        "event_type": draw(st.sampled_from(["play", "skip", " Like ", "STOP"])),
        "song_id": f"s{draw(st.integers(0, 9))}",
        "country": draw(st.sampled_from(["US", " gb ", None])),
        "device": draw(st.sampled_from(["mobile", "TV", None])),
        "timestamp": (NOW - timedelta(minutes=draw(st.integers(0, 10_000)))).isoformat(),
    }


# One defect each, and the one reason it must be rejected with.
DEFECTS: dict[str, Any] = {
    "required:user_id": lambda r: r.pop("user_id"),
    "required:event_id": lambda r: r.update(event_id="  "),
    "enum:event_type": lambda r: r.update(event_type="dance"),
    "enum:device": lambda r: r.update(device="fax"),
    "type:position_ms": lambda r: r.update(position_ms="abc"),
    "min:duration_ms": lambda r: r.update(duration_ms=0),
    "pattern:country": lambda r: r.update(country="USA"),
    "not_future:timestamp": lambda r: r.update(timestamp=(NOW + timedelta(days=2)).isoformat()),
    "type:timestamp": lambda r: r.update(timestamp="yesterday"),
    "rule:position_within_track": lambda r: r.update(position_ms=5000, duration_ms=1000),
}


@st.composite
def fated(draw: st.DrawFn) -> tuple[str, Any]:
    """A record whose fate is known: ("good", record), ("repeat", None: the previous good
    record again) or (reason, record with that defect)."""
    fate = draw(st.sampled_from(["good", "good", "repeat", *DEFECTS]))
    return fate, None if fate == "repeat" else known_good(draw)


line = st.one_of(
    good().map(json.dumps),
    mutated().map(lambda r: json.dumps(r, allow_nan=True)),
    st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s),
    st.sampled_from(
        ['{"event_id": "x"', "[1,2]", "null", "42", '"str"', "{}", '{"event_id": "e1",}']
    ),
).map(lambda s: s.encode("utf-8"))
bad_bytes = st.sampled_from([b"\xff\xfe{bad}", b'{"event_id": "\xc3("}'])
lines = st.lists(st.one_of(line, line, line, bad_bytes, fated(), fated()), min_size=1, max_size=60)


def place(items: list[Any], run: int) -> tuple[list[bytes], dict[int, str]]:
    """The file's lines, and what must become of each line whose fate is known (by line
    number: "valid:<id>", "duplicate:<id>" or the reason it is rejected with)."""
    raw: list[bytes] = []
    fates: dict[int, str] = {}
    last_good: bytes | None = None
    for n, item in enumerate(items, start=1):
        if isinstance(item, bytes):
            raw.append(item)
            continue
        fate, rec = item
        if fate == "repeat":
            if last_good is None:  # nothing to repeat yet: an empty line
                raw.append(b"")
                continue
            raw.append(last_good)
            fates[n] = "duplicate:" + json.loads(last_good)["event_id"]
            continue
        rec = {"event_id": f"g{run}-{n}", **rec}
        if fate == "good":
            last_good = json.dumps(rec).encode()
            raw.append(last_good)
            fates[n] = f"valid:{rec['event_id']}"
        else:
            DEFECTS[fate](rec)
            raw.append(json.dumps(rec).encode())
            fates[n] = fate
    return raw, fates


def check_fates(con: Any, run_id: str, fates: dict[int, str], counts: Any, table: bool) -> None:
    """Each line whose fate is known went where it must."""
    valid = {v.split(":", 1)[1] for v in fates.values() if v.startswith("valid:")}
    held = (
        {
            r[0]
            for r in con.execute(
                "SELECT event_id FROM listening_events WHERE run_id = ? AND event_id LIKE 'g%'",
                [run_id],
            ).fetchall()
        }
        if table
        else set()
    )
    assert held == valid  # every known-good record valid (and no defective one)
    rejected = dict(
        con.execute(
            "SELECT source_line, reasons FROM meta.rejected WHERE run_id = ?", [run_id]
        ).fetchall()
    )
    for n, fate in fates.items():
        if fate.startswith(("valid:", "duplicate:")):
            assert n not in rejected, (n, fate, rejected.get(n))
        else:
            assert rejected.get(n) == [fate], (n, fate, rejected.get(n))
    repeats = sum(1 for v in fates.values() if v.startswith("duplicate:"))
    assert counts.duplicates >= repeats


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
        runs = []
        for n, items in enumerate(batches):
            raw, fates = place(items, n)
            path = home / f"in{n}.ndjson"
            path.write_bytes(b"\n".join(raw) + b"\n")
            m = engine.ingest([str(path)], "listening_events", now=NOW, force=True).manifest
            c = m.counts
            assert c.input == nonblank(raw)
            assert c.input == c.valid + c.rejected + c.duplicates
            seen_valid += c.valid
            seen_rejected += c.rejected
            runs.append((m.run_id, fates, c))
        con = duck.connect(cfg.warehouse, read_only=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            for run_id, fates, c in runs:
                check_fates(con, run_id, fates, c, "listening_events" in tables)
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
