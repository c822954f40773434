"""Reason codes: one enum, every code the kernel emits is in it, and the docs list it."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import builtin_contracts
from trackline.contracts.reasons import Malformed, Reason, markdown
from trackline.contracts.spec import Contract
from trackline.sources.files import expand
from trackline.sources.readers import read_batches

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_docs_list_every_code_as_the_enum_renders_it() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- reasons:begin[^>]*-->\n(.*?)<!-- reasons:end -->", text, re.S)
    assert found, "docs/contracts.md lost its generated reason tables"
    assert found.group(1) == markdown(), (
        "docs/contracts.md and trackline.contracts.reasons disagree: paste the output of "
        "`python -m trackline.contracts.reasons` between the reasons markers"
    )


def test_codes_and_details_are_unique() -> None:
    assert len({r.code for r in Reason}) == len(Reason)
    assert len({m.text for m in Malformed}) == len(Malformed)


def test_a_reason_is_its_code_alone_or_with_the_name_it_concerns() -> None:
    assert str(Reason.MALFORMED) == "malformed"
    assert Reason.REQUIRED.of("user_id") == "required:user_id"
    assert Reason.parse("required:user_id") == (Reason.REQUIRED, "user_id")
    assert Reason.parse("rule:likes_not_above_views") == (Reason.RULE, "likes_not_above_views")
    assert Reason.parse("unknown_event_type") == (Reason.UNKNOWN_EVENT_TYPE, None)
    with pytest.raises(ValueError):
        Reason.MALFORMED.of("user_id")
    for loose in ("required", "malformed:x", "required:", "nope:x", "nope", "Required:x"):
        with pytest.raises(ValueError, match="not a reason code"):
            Reason.parse(loose)


def test_a_detail_is_recognised_by_its_fixed_text() -> None:
    got = Malformed.COLUMN_COUNT.format(expected=3, got=4)
    assert got == "wrong column count: expected 3, got 4"
    assert Malformed.parse(got) is Malformed.COLUMN_COUNT
    assert Malformed.parse("invalid JSON") is Malformed.INVALID_JSON
    assert Malformed.parse("invalid JSON array: bad [hint]") is Malformed.INVALID_JSON_ARRAY
    with pytest.raises(ValueError):
        Malformed.parse("invalid JSON!")


@pytest.mark.parametrize("name", sorted(builtin_contracts()))
def test_every_code_a_builtin_contract_can_emit_is_in_the_enum(name: str) -> None:
    contract = builtin_contracts()[name]
    codes = Kernel(contract).reason_codes()
    assert codes[0] == "malformed"
    for code in codes:
        reason, target = Reason.parse(code)
        if reason.field == "field":
            assert target in contract.fields
        elif reason.field == "rule":
            assert target in contract.rules


def _failing_rows(contract: Contract) -> list[str]:
    """Lines that fail each kind of check the contract has, and some that are malformed."""
    rows: list[Any] = [{}, "{not json", "[1, 2]", '"text"']
    for field, spec in contract.fields.items():
        bad: list[Any] = ["x!x"]
        if spec.min is not None:
            bad.append(spec.min - 1)
        if spec.max is not None:
            bad.append(spec.max + 1)
        if spec.enum is not None:
            bad.append("zz-not-allowed")
        if spec.pattern is not None:
            bad.append("\u0001")
        if spec.not_future:
            bad.append("2999-01-01" if spec.type == "date" else "2999-01-01T00:00:00Z")
        rows += [{field: value} for value in bad]
    return [r if isinstance(r, str) else json.dumps(r) for r in rows]


def test_the_kernel_emits_only_codes_and_details_of_the_enums() -> None:
    emitted: set[Reason] = set()
    for contract in builtin_contracts().values():
        kernel = Kernel(contract)
        lines = _failing_rows(contract)
        rejected = kernel.run(pa.table({"_raw": lines}), now=NOW, dedup=False).rejected
        kernel.close()
        possible = set(kernel.reason_codes())
        for reasons, detail in zip(
            rejected["reasons"].to_pylist(), rejected["detail"].to_pylist(), strict=True
        ):
            assert set(reasons) <= possible, f"{contract.name}: {reasons}"
            emitted |= {Reason.parse(r)[0] for r in reasons}
            if reasons == ["malformed"]:
                assert Malformed.parse(detail) in (Malformed.INVALID_JSON, Malformed.NOT_AN_OBJECT)
    # the rows above reach every kind of check the built-in contracts use
    kinds = {Reason.MALFORMED, Reason.REQUIRED, Reason.TYPE, Reason.MIN, Reason.PATTERN}
    kinds |= {Reason.ENUM, Reason.NOT_FUTURE}
    assert kinds <= emitted


def _damaged_files() -> dict[str, bytes]:
    whole = "".join(f'{{"a": {i * 7919 % 10007}}}\n' for i in range(5000)).encode()
    packed = gzip.compress(whole)
    return {
        "lines.ndjson": b'{"a": 1}\n{"a": "\xff\xfe"}\n',
        "rows.csv": b"a,b\n1,2\n1,2,3\n\xff,2\n",
        "broken.json": b'[{"a": 1},',
        "scalar.json": b"42",
        "table.parquet": b"PAR1 not really parquet",
        "cut.ndjson.gz": packed[: len(packed) // 2],
    }


def test_the_readers_say_why_a_record_is_malformed_only_with_the_enum(tmp_path: Path) -> None:
    for name, data in _damaged_files().items():
        (tmp_path / name).write_bytes(data)
    seen: set[Malformed] = set()
    for f in expand([str(tmp_path)]):
        for batch in read_batches(f):
            if "_malformed" in batch.schema.names:
                seen |= {Malformed.parse(d) for d in batch["_malformed"].to_pylist() if d}
    assert seen == {
        Malformed.BAD_ENCODING,
        Malformed.COLUMN_COUNT,
        Malformed.INVALID_JSON_ARRAY,
        Malformed.NOT_AN_ARRAY,
        Malformed.UNREADABLE_PARQUET,
        Malformed.CORRUPT_GZIP,
    }
