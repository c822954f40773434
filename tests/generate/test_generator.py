"""The generator: deterministic, realistic, and every record judged by the real kernel as made.

The central test writes each built-in dataset with 30% invalid records, runs the lines through
the validation kernel and checks that every valid record passes, every invalid one is rejected
for exactly the reason its kind names, and duplicates are counted as duplicates.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from trackline.contracts.kernel import Kernel, KernelResult
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.errors import UnknownDatasetError, UsageError
from trackline.generate import generator
from trackline.generate.generator import (
    ENCODE,
    INVALID_KINDS,
    GeneratedFile,
    Labelled,
    applicable_kinds,
    labelled_records,
    output_format,
    records,
    write,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REGISTRY = ContractRegistry()


def generate(
    tmp_path: Path, dataset: str, name: str, count: int = 400, **kw: Any
) -> tuple[GeneratedFile, list[Labelled]]:
    """Write a file and the labels of the records it was made from (same arguments)."""
    kw = {"invalid_share": 0.3, "seed": 11, **kw}
    contracts = kw.pop("contracts", REGISTRY)
    result = write(dataset, count, tmp_path / name, now=NOW, contracts=contracts, **kw)
    labels = list(labelled_records(contracts.get(dataset), count, now=NOW, **kw))
    return result, labels


def run_lines(contract: Contract, lines: list[str]) -> KernelResult:
    lineno = pa.array(range(1, len(lines) + 1), pa.int64())
    return Kernel(contract).run(pa.table({"_raw": lines, "_source_line": lineno}), now=NOW)


def assert_verdicts(
    contract: Contract, lines: list[str], labels: list[Labelled], result: GeneratedFile
) -> None:
    """Every record gets the kernel verdict it was made for; the counts agree."""
    assert len(lines) == len(labels) == result.count
    checked = run_lines(contract, lines)
    reasons = {row["source_line"]: row["reasons"] for row in checked.rejected.to_pylist()}
    for line, item in enumerate(labels, 1):
        got = reasons.get(line)
        if item.kind in ("valid", "duplicate"):
            assert got is None, (item.kind, lines[line - 1], got)
        else:
            assert item.code is not None and item.code.split(":")[0] == item.kind
            assert got == [item.code], (item.kind, lines[line - 1], got)
    kinds = Counter(item.kind for item in labels)
    assert checked.valid.num_rows == kinds["valid"] == result.valid
    assert checked.duplicates == kinds["duplicate"] == result.duplicates
    invalid = {k: n for k, n in kinds.items() if k not in ("valid", "duplicate")}
    assert result.invalid_by_kind == invalid
    assert set(kinds) - {"valid"} == set(applicable_kinds(contract))


@pytest.mark.parametrize("dataset", REGISTRY.names())
def test_the_kernel_judges_every_record_as_it_was_made(tmp_path: Path, dataset: str) -> None:
    result, labels = generate(tmp_path, dataset, "out.ndjson")
    lines = result.path.read_text(encoding="utf-8").splitlines()
    assert_verdicts(REGISTRY.get(dataset), lines, labels, result)


def test_applicable_kinds_follow_the_contract() -> None:
    assert applicable_kinds(REGISTRY.get("users")) == (
        "malformed", "required", "type", "min", "pattern", "not_future", "duplicate",
    )  # fmt: skip
    assert applicable_kinds(REGISTRY.get("inventory")) == INVALID_KINDS
    for contract in REGISTRY.all():
        kinds = applicable_kinds(contract)
        assert ("rule" in kinds) == bool(contract.rules)
        assert ("max" in kinds) == any(f.max is not None for f in contract.fields.values())


def test_every_rule_and_bounded_field_gets_broken() -> None:
    """Over enough records each rule and each field with a bound is the one broken."""
    for contract in REGISTRY.all():
        codes = {it.code for it in labelled_records(contract, 3000, invalid_share=0.2, now=NOW)}
        for name in contract.rules:
            assert f"rule:{name}" in codes
        for name, spec in contract.fields.items():
            if spec.pattern:
                assert f"pattern:{name}" in codes
            if spec.max is not None:
                assert f"max:{name}" in codes


@pytest.mark.parametrize(
    "name", ["e.ndjson", "e.jsonl.gz", "e.json", "e.csv", "e.csv.gz", "e.parquet"]
)
def test_same_seed_and_now_give_the_same_bytes(tmp_path: Path, name: str) -> None:
    def make(folder: str, seed: int) -> bytes:
        out = tmp_path / folder / name
        write("playlist_tracks", 300, out, invalid_share=0.2, seed=seed, now=NOW)
        return out.read_bytes()

    assert make("a", 5) == make("b", 5)
    assert make("c", 6) != make("a", 5)


def test_datasets_with_the_same_seed_do_not_share_event_ids() -> None:
    def ids(dataset: str) -> set[str]:
        rows = records(REGISTRY.get(dataset), 200, seed=1, now=NOW)
        return {r["event_id"] for r in rows if isinstance(r, dict)}

    assert not ids("feedback") & ids("listening_events")


def test_gzip_ndjson_has_one_line_per_record(tmp_path: Path) -> None:
    result, labels = generate(tmp_path, "listens", "l.ndjson.gz")
    with gzip.open(result.path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert_verdicts(REGISTRY.get("listens"), lines, labels, result)
    assert result.compression == "gzip"
    assert result.format == "ndjson"


def test_json_array_skips_malformed_records_and_says_so(tmp_path: Path) -> None:
    result, labels = generate(tmp_path, "orders", "o.json")
    data = json.loads(result.path.read_text(encoding="utf-8"))
    malformed = sum(it.kind == "malformed" for it in labels)
    assert malformed > 0
    assert result.skipped == {"malformed": malformed}
    assert len(data) == result.count == len(labels) - malformed
    assert data == [it.record for it in labels if it.kind != "malformed"]


def test_csv_keeps_every_invalid_kind_and_tears_malformed_rows(tmp_path: Path) -> None:
    result, labels = generate(tmp_path, "orders", "o.csv.gz")
    contract = REGISTRY.get("orders")
    torn: list[Any] = []

    def skip(row: Any) -> str:
        torn.append(row)
        return "skip"

    table = pacsv.read_csv(
        result.path,  # pyarrow reads .gz transparently
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(contract.fields, pa.string())
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
    )
    malformed = sum(it.kind == "malformed" for it in labels)
    assert len(torn) == malformed > 0
    assert table.num_rows == result.count - malformed
    assert table.column_names == list(contract.fields)
    checked = Kernel(contract).run(table, now=NOW)
    expected = sorted(it.code for it in labels if it.code and it.kind != "malformed")
    assert sorted(r[0] for r in checked.rejected["reasons"].to_pylist()) == expected
    assert checked.duplicates == result.duplicates


@pytest.mark.parametrize("dataset", ["orders", "listens", "inventory"])
def test_parquet_is_typed_and_skips_what_types_cannot_hold(tmp_path: Path, dataset: str) -> None:
    result, labels = generate(tmp_path, dataset, "p.parquet")
    contract = REGISTRY.get(dataset)
    table = pq.read_table(result.path)
    kinds = Counter(it.kind for it in labels)
    assert result.skipped == {"malformed": kinds["malformed"], "type": kinds["type"]}
    assert table.num_rows == result.count == len(labels) - kinds["malformed"] - kinds["type"]
    assert pa.types.is_timestamp(table.schema.field(contract.event_time or "").type)
    checked = Kernel(contract).run(table, now=NOW)
    skipped = ("malformed", "type")
    expected = sorted(it.code for it in labels if it.code and it.kind not in skipped)
    assert sorted(r[0] for r in checked.rejected["reasons"].to_pylist()) == expected
    assert checked.duplicates == result.duplicates


def test_zero_records_give_empty_but_readable_files(tmp_path: Path) -> None:
    for name in ("z.ndjson", "z.json", "z.csv", "z.parquet"):
        result = write("carts", 0, tmp_path / name, invalid_share=0.5, now=NOW)
        assert (result.count, result.valid, result.invalid_by_kind) == (0, 0, {})
    assert (tmp_path / "z.ndjson").read_bytes() == b""
    assert json.loads((tmp_path / "z.json").read_text()) == []
    assert (tmp_path / "z.csv").read_text() == "cart_id,user_id,date,product_id,quantity\n"
    assert pq.read_table(tmp_path / "z.parquet").num_rows == 0


def test_all_invalid_still_accounts_for_every_record(tmp_path: Path) -> None:
    result, _ = generate(tmp_path, "listening_events", "all.ndjson", 120, invalid_share=1.0)
    assert result.valid == 0 and result.duplicates == 0  # nothing valid to repeat
    lines = result.path.read_text(encoding="utf-8").splitlines()
    assert run_lines(REGISTRY.get("listening_events"), lines).rejected.num_rows == 120
    assert sum(result.invalid_by_kind.values()) == 120


def test_no_invalid_share_means_all_valid(tmp_path: Path) -> None:
    result, _ = generate(tmp_path, "top_tracks", "t.ndjson", 500, invalid_share=0.0)
    lines = result.path.read_text(encoding="utf-8").splitlines()
    checked = run_lines(REGISTRY.get("top_tracks"), lines)
    assert (checked.valid.num_rows, checked.rejected.num_rows, checked.duplicates) == (500, 0, 0)


def test_records_look_like_real_listening_data() -> None:
    rows = [r for r in records(REGISTRY.get("listening_events"), 5000, now=NOW)]
    assert all(isinstance(r, dict) for r in rows)
    dicts: list[dict[str, Any]] = [r for r in rows if isinstance(r, dict)]
    for r in dicts[:200]:
        assert re.fullmatch(r"user_\d{4}", r["user_id"])
        assert re.fullmatch(r"[0-9A-Za-z]{22}", r["song_id"])
        assert uuid.UUID(r["event_id"]).version == 4
        assert 90_000 <= r["duration_ms"] <= 420_000
    times = [datetime.fromisoformat(r["timestamp"]) for r in dicts]
    assert NOW - timedelta(days=30, minutes=2) <= min(times)
    assert max(times) <= NOW
    assert times == sorted(times)  # events arrive in time order

    genres = Counter((r["genre"] or "").strip().lower() for r in dicts)
    countries = Counter((r["country"] or "").strip().upper() for r in dicts)
    top_genre, top_count = genres.most_common(1)[0]
    assert top_genre == "pop" and top_count > 5 * genres["metal"] > 0  # skewed, long tail
    assert countries.most_common(1)[0][0] == "US" and len(countries) > 15

    raw = [r["event_type"] for r in dicts]
    normalised = {v.strip(" \t").lower() for v in raw}
    assert normalised <= {"play", "pause", "resume", "skip", "like", "stop"}
    assert any(v != v.strip().lower() for v in raw)  # some odd case and spacing to normalise


def test_commerce_records_keep_their_business_rules() -> None:
    carts = [r for r in records(REGISTRY.get("carts"), 500, now=NOW) if isinstance(r, dict)]
    lines = Counter((r["cart_id"], r["product_id"]) for r in carts)
    assert max(lines.values()) == 1
    per_cart = {(r["cart_id"], r["user_id"], r["date"]) for r in carts}
    assert len(per_cart) == len({r["cart_id"] for r in carts}) < len(carts)

    moves = [r for r in records(REGISTRY.get("inventory"), 2000, now=NOW) if isinstance(r, dict)]
    for r in moves:
        reason = r["reason"].strip().lower()
        assert reason != "restock" or r["quantity_change"] > 0
        assert reason != "sale" or r["quantity_change"] < 0
        assert r["quantity_after"] >= 0

    orders = [r for r in records(REGISTRY.get("orders"), 2000, now=NOW) if isinstance(r, dict)]
    assert all(r["discount_amount"] is None or r["discount_amount"] <= r["total_amount"]
               for r in orders)  # fmt: skip
    by_order = Counter(r["order_id"] for r in orders)
    assert max(by_order.values()) > 1  # an order's lifecycle has several events


def test_fast_encoder_writes_what_json_dumps_writes() -> None:
    for contract in REGISTRY.all():
        for r in records(contract, 200, invalid_share=0.2, now=NOW):
            if isinstance(r, dict):
                assert ENCODE(r) == json.dumps(r, ensure_ascii=False, separators=(",", ":"))


def test_a_users_own_contract_is_generated_by_field_type(tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "gadgets.yaml").write_text(
        "name: gadgets\nversion: 1\nprimary_key: [id]\nevent_time: made_at\nfields:\n"
        "  id: {type: int64, required: true, min: 1}\n"
        "  label: {type: string, required: true}\n"
        "  score: {type: float64, min: 0, max: 10}\n"
        "  colour: {type: string, normalize: lower_trim, enum: [red, green]}\n"
        "  code: {type: string, pattern: '^[A-Z]{3}$'}\n"
        "  flag: {type: bool}\n"
        "  made_at: {type: timestamp, required: true, not_future: true}\n",
        encoding="utf-8",
    )
    contracts = ContractRegistry(folder)
    result, labels = generate(tmp_path, "gadgets", "g.ndjson", contracts=contracts)
    lines = result.path.read_text(encoding="utf-8").splitlines()
    assert_verdicts(contracts.get("gadgets"), lines, labels, result)
    assert "rule" not in result.invalid_by_kind


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"count": -1}, UsageError),
        ({"count": 2.5}, UsageError),
        ({"invalid_share": 1.5}, UsageError),
        ({"invalid_share": -0.1}, UsageError),
        ({"invalid_share": math.nan}, UsageError),
        ({"dataset": "nope"}, UnknownDatasetError),
        ({"out": "x.txt"}, UsageError),
        ({"out": "x.parquet.zip"}, UsageError),
    ],
)
def test_bad_arguments_raise_typed_errors(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    args: dict[str, Any] = {"dataset": "users", "count": 10, "out": "u.ndjson", **kwargs}
    out = tmp_path / args.pop("out")
    with pytest.raises(error):
        write(args.pop("dataset"), args.pop("count"), out, **args)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_records_check_arguments_before_the_first_record() -> None:
    with pytest.raises(UsageError):
        records(REGISTRY.get("users"), -5)
    with pytest.raises(UsageError):
        labelled_records(REGISTRY.get("users"), 5, invalid_share=2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.ndjson", ("ndjson", None)),
        ("a.JSONL.GZ", ("ndjson", "gzip")),
        ("a.json", ("json", None)),
        ("dir.v2/a.csv.gz", ("csv", "gzip")),
        ("a.parquet", ("parquet", None)),
    ],
)
def test_output_format_comes_from_the_extension(name: str, expected: tuple[str, Any]) -> None:
    assert output_format(Path(name)) == expected


def test_the_catalogue_is_shared_across_runs() -> None:
    assert generator.world() is generator.world()
    a = records(REGISTRY.get("listens"), 50, seed=1, now=NOW)
    b = records(REGISTRY.get("top_tracks"), 500, seed=2, now=NOW)
    tracks_a = {r["track_id"] for r in a if isinstance(r, dict)}
    tracks_b = {r["track_id"] for r in b if isinstance(r, dict)}
    assert tracks_a & tracks_b  # both draw from one catalogue, so they join
