"""File sources: path expansion and every reader, with real files on disk and in memory://."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.errors import InputNotFoundError, TracklineError, UsageError
from trackline.sources.readers import ndjson
from trackline.sources.base import InputFile
from trackline.sources.files import BAD_ENCODING, detect, expand, read_batches

META = ["_raw", "_source_file", "_source_line", "_malformed"]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def one(path: Path | str) -> InputFile:
    [f] = expand([str(path)])
    return f


def rows(f: InputFile | Path, batch_rows: int = 65_536, **kw: Any) -> list[dict[str, Any]]:
    f = one(f) if isinstance(f, Path) else f
    result: list[dict[str, Any]] = read_batches(f, batch_rows, **kw).read_all().to_pylist()
    return result


def lines_of(result: list[dict[str, Any]]) -> list[tuple[int, str, str | None]]:
    return [(r["_source_line"], r["_raw"], r["_malformed"]) for r in result]


def event(i: int, **over: Any) -> dict[str, Any]:
    e = {
        "event_id": f"e{i}",
        "user_id": f"u{i % 7}",
        "event_type": "play",
        "song_id": f"s{i}",
        "position_ms": 10,
        "duration_ms": 1000,
        "timestamp": "2024-05-01T12:00:00Z",
    }
    e.update(over)
    return e


@pytest.fixture
def mem() -> Iterator[str]:
    """A fresh memory:// folder, removed afterwards (the memory filesystem is global)."""
    root = f"memory://t-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


# Expansion -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.ndjson", ("ndjson", None)),
        ("a.jsonl", ("ndjson", None)),
        ("a.JSONL.GZ", ("ndjson", "gzip")),
        ("a.json", ("json", None)),
        ("a.json.gz", ("json", "gzip")),
        ("a.csv", ("csv", None)),
        ("a.csv.gz", ("csv", "gzip")),
        ("a.parquet", ("parquet", None)),
        ("a.pq.gz", ("parquet", "gzip")),
        ("a.txt", None),
        ("a.gz", None),
        ("ndjson", None),
    ],
)
def test_detect_format_from_extension(name: str, expected: tuple[str, str | None] | None) -> None:
    assert detect(name) == expected


def test_expand_folder_is_recursive_sorted_and_skips_hidden_and_unknown(tmp_path: Path) -> None:
    write(tmp_path / "b.ndjson", "{}\n")
    write(tmp_path / "a.csv.gz", gzip.compress(b"x\n1\n"))
    write(tmp_path / "sub" / "c.json", "[]")
    write(tmp_path / "sub" / ".hidden.ndjson", "{}\n")
    write(tmp_path / ".git" / "d.ndjson", "{}\n")
    write(tmp_path / "notes.txt", "hi")
    found = expand([str(tmp_path)])
    assert [Path(f.uri).relative_to(tmp_path).as_posix() for f in found] == [
        "a.csv.gz",
        "b.ndjson",
        "sub/c.json",
    ]
    assert [(f.format, f.compression) for f in found] == [
        ("csv", "gzip"),
        ("ndjson", None),
        ("json", None),
    ]
    assert found[1].size == 3
    assert found[0].size == (tmp_path / "a.csv.gz").stat().st_size


def test_expand_globs_and_deduplicates(tmp_path: Path) -> None:
    for name in ["a1.ndjson", "a2.ndjson", "b1.ndjson", "deep/x/a3.ndjson"]:
        write(tmp_path / name, "{}\n")
    star = expand([f"{tmp_path}/a*.ndjson"])
    assert [Path(f.uri).name for f in star] == ["a1.ndjson", "a2.ndjson"]
    question = expand([f"{tmp_path}/?1.ndjson"])
    assert [Path(f.uri).name for f in question] == ["a1.ndjson", "b1.ndjson"]
    recursive = expand([f"{tmp_path}/**/a*.ndjson"])
    assert {Path(f.uri).name for f in recursive} == {"a1.ndjson", "a2.ndjson", "a3.ndjson"}
    both = expand([str(tmp_path / "b1.ndjson"), f"{tmp_path}/*.ndjson", str(tmp_path)])
    assert [Path(f.uri).name for f in both] == ["b1.ndjson", "a1.ndjson", "a2.ndjson", "a3.ndjson"]


def test_memory_uris_glob_folder_and_read(mem: str) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{mem}/in/a.ndjson", b'{"a":1}\n{"a":2}\n')
    fs.pipe(f"{mem}/in/b.ndjson.gz", gzip.compress(b'{"b":1}\n'))
    fs.pipe(f"{mem}/in/c.csv", b"x\n1\n")
    globbed = expand([f"{mem}/in/*.ndjson*"])
    assert [f.uri.rsplit("/", 1)[-1] for f in globbed] == ["a.ndjson", "b.ndjson.gz"]
    assert all(f.uri.startswith("memory://") for f in globbed)
    assert len(expand([f"{mem}/in"])) == 3
    assert [r["_raw"] for r in rows(globbed[0])] == ['{"a":1}', '{"a":2}']
    assert rows(globbed[1])[0]["_source_file"] == globbed[1].uri
    assert [r["_raw"] for r in rows(globbed[1])] == ['{"b":1}']


@pytest.mark.parametrize("pattern", ["missing.ndjson", "nothing-*.ndjson", "missing-dir/"])
def test_path_that_matches_nothing_raises_input_not_found(tmp_path: Path, pattern: str) -> None:
    path = f"{tmp_path}/{pattern}"
    with pytest.raises(InputNotFoundError) as info:
        expand([path])
    message = str(info.value)
    assert path.rstrip("/") in message or path in message
    assert "\n" not in message


def test_folder_without_supported_files_raises_input_not_found(tmp_path: Path) -> None:
    write(tmp_path / "readme.txt", "x")
    write(tmp_path / ".hidden.ndjson", "{}\n")
    with pytest.raises(InputNotFoundError, match="supported"):
        expand([str(tmp_path)])


def test_named_file_with_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "events.txt", "{}\n")
    with pytest.raises(UsageError, match=r"\.ndjson.*\.parquet") as info:
        expand([str(path)])
    assert "events.txt" in str(info.value)
    assert not isinstance(info.value, InputNotFoundError)


def test_file_gone_after_expand_raises_tracklineerror_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "gone.ndjson", "{}\n")
    f = one(path)
    path.unlink()
    with pytest.raises(TracklineError, match=r"gone\.ndjson"):
        read_batches(f).read_all()


# NDJSON --------------------------------------------------------------------------------------
def test_ndjson_rows_carry_file_and_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path / "e.ndjson", '{"a":1}\nnot json\n{"a":3}')  # no final newline
    f = one(path)
    reader = read_batches(f)
    assert reader.schema.names == META
    assert reader.schema.field("_source_line").type == pa.int64()
    result = reader.read_all().to_pylist()
    assert lines_of(result) == [(1, '{"a":1}', None), (2, "not json", None), (3, '{"a":3}', None)]
    assert {r["_source_file"] for r in result} == {f.uri}


def test_ndjson_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbf{"a":1}\r\n\r\n   \n\t \r\n{"a":2}\r\n\n{"a":3}\r'
    result = rows(write(tmp_path / "e.ndjson", data))
    assert lines_of(result) == [(1, '{"a":1}', None), (5, '{"a":2}', None), (7, '{"a":3}', None)]


def test_ndjson_only_one_trailing_cr_is_stripped(tmp_path: Path) -> None:
    result = rows(write(tmp_path / "e.ndjson", b'{"a":"x\r"}\r\n'))
    assert result[0]["_raw"] == '{"a":"x\r"}'


def test_ndjson_invalid_utf8_line_is_malformed_and_neighbours_survive(tmp_path: Path) -> None:
    data = '{"a":"é"}\n'.encode() + b'{"a":"\xe9"}\n' + '{"a":"ü"}\n\n'.encode()
    result = rows(write(tmp_path / "e.ndjson", data))
    assert lines_of(result) == [
        (1, '{"a":"é"}', None),
        (2, '{"a":"\ufffd"}', BAD_ENCODING),
        (3, '{"a":"ü"}', None),
    ]


def reference_lines(data: bytes) -> list[tuple[int, str]]:
    """What the reader must return, computed the slow obvious way."""
    out = []
    for i, line in enumerate(data.split(b"\n"), start=1):
        text = line.decode().removesuffix("\r")
        if text.strip(" \t\r"):
            out.append((i, text))
    return out


@pytest.mark.parametrize("block_bytes", [1, 7, 100, 333, 1 << 20])
def test_ndjson_lines_straddling_blocks_are_exact(tmp_path: Path, block_bytes: int) -> None:
    lines = []
    for i in range(200):
        pad = "x" * (i * 37 % 250)  # some lines are longer than the small blocks
        lines.append("" if i % 17 == 0 else json.dumps({"i": i, "pad": pad}))
    data = "\n".join(lines).encode()
    path = write(tmp_path / "e.ndjson", data)
    result = rows(path, 50, block_bytes=block_bytes)
    assert [(r["_source_line"], r["_raw"]) for r in result] == reference_lines(data)


def test_ndjson_three_blocks(tmp_path: Path) -> None:
    data = "".join(json.dumps(event(i)) + "\n" for i in range(30)).encode()
    block = len(data) // 3 + 1
    assert data[block - 1] != ord("\n") and data[2 * block - 1] != ord("\n")  # cuts mid-line
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=block)
    assert [(r["_source_line"], r["_raw"]) for r in result] == reference_lines(data)
    assert len(result) == 30


def test_ndjson_batches_are_bounded_and_share_one_schema(tmp_path: Path) -> None:
    data = "".join(f'{{"i":{i}}}\n' for i in range(1000)).encode()
    reader = read_batches(one(write(tmp_path / "e.ndjson", data)), 64, block_bytes=500)
    batches = list(reader)
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == 1000
    assert max(sizes) <= 64
    assert all(size == 64 for size in sizes[:-1])
    assert {b.schema for b in batches} == {reader.schema}


def test_ndjson_over_long_line_is_one_malformed_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 50)
    data = b'{"a":1}\n' + b"y" * 500 + b'\n{"a":3}\n'
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=16)
    assert [(r["_source_line"], r["_malformed"] is not None) for r in result] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert result[1]["_raw"].startswith("yyy")
    assert "longer than" in result[1]["_malformed"]


def test_ndjson_gzip_plain_and_concatenated_members(tmp_path: Path) -> None:
    data = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}\n')
    result = rows(write(tmp_path / "e.ndjson.gz", data), block_bytes=5)
    assert lines_of(result) == [(1, '{"a":1}', None), (2, '{"a":2}', None), (3, '{"a":3}', None)]


def test_corrupt_gzip_keeps_what_was_read_then_one_malformed_row(tmp_path: Path) -> None:
    text = "".join(f'{{"i":{i},"pad":"{i * 7919 % 100003}"}}\n' for i in range(5000)).encode()
    packed = gzip.compress(text)
    result = rows(write(tmp_path / "e.ndjson.gz", packed[: len(packed) // 2]))
    *good, last = result
    assert 0 < len(good) < 5000
    assert last["_malformed"].startswith("corrupt gzip stream:")
    assert last["_source_line"] == good[-1]["_source_line"] + 1
    # every full line read before the damage is intact; at most the cut line is partial
    assert [r["_raw"] for r in good[:-1]] == text.decode().splitlines()[: len(good) - 1]


def test_not_gzip_data_named_gz_is_one_malformed_row(tmp_path: Path) -> None:
    result = rows(write(tmp_path / "e.ndjson.gz", b'{"a":1}\n'))
    assert len(result) == 1
    assert result[0]["_source_line"] == 1
    assert result[0]["_malformed"].startswith("corrupt gzip stream:")


# CSV -----------------------------------------------------------------------------------------
def test_csv_strings_nulls_and_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", 'a,b,c\r\n1,,x\r\n"",NA,"q, r"\r\n\r\n4,5,6\r\n')
    reader = read_batches(one(path))
    assert reader.schema.names == ["a", "b", "c", *META]
    assert all(t == pa.string() for t in reader.schema.types if t != pa.int64())
    result = reader.read_all().to_pylist()
    assert [(r["_source_line"], r["a"], r["b"], r["c"]) for r in result] == [
        (2, "1", None, "x"),  # an empty field is NULL (missing)...
        (3, None, "NA", "q, r"),  # ...quoted or not, and nothing else is
        (4, "4", "5", "6"),  # record 3 + header: a skipped blank line is not counted
    ]
    assert all(r["_raw"] is None and r["_malformed"] is None for r in result)


def test_csv_wrong_column_count_is_a_malformed_row_with_text_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    result = rows(path)
    assert [(r["_source_line"], r["_raw"], r["_malformed"], r["a"]) for r in result] == [
        (2, None, None, "1"),
        (3, "4,5", "wrong column count: expected 3, got 2", None),
        (4, "6,7,8,9", "wrong column count: expected 3, got 4", None),
        (5, None, None, "10"),
    ]


def test_csv_line_numbers_stay_right_across_many_blocks(tmp_path: Path) -> None:
    lines = ["id,value,note"]
    for i in range(1, 60_001):
        lines.append(f"{i},v{i}" if i % 7 == 0 else f"{i},v{i},some note text {i}")
    path = write(tmp_path / "e.csv", "\n".join(lines) + "\n")  # about 2 MB: several blocks
    result = rows(path, 10_000)
    assert len(result) == 60_000
    by_line = {r["_source_line"]: r for r in result}
    assert sorted(by_line) == list(range(2, 60_002))
    for line, r in by_line.items():
        i = line - 1
        if i % 7 == 0:
            assert (r["_raw"], r["id"]) == (f"{i},v{i}", None)
        else:
            assert (r["id"], r["_malformed"]) == (str(i), None)


def test_csv_multiline_quoted_field_counts_as_one_record(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", 'a,b\n1,"two\nlines"\n3,4\n')
    result = rows(path)
    assert [(r["_source_line"], r["a"], r["b"]) for r in result] == [
        (2, "1", "two\nlines"),
        (3, "3", "4"),  # record 2 (+1 for the header), though it sits on physical line 4
    ]


def test_csv_header_names_made_unique(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "\ufeff id ,,id,_raw,name\n1,2,3,4,5\n")
    reader = read_batches(one(path))
    assert reader.schema.names[:5] == ["id", "column_2", "id_2", "_raw_2", "name"]
    [row] = reader.read_all().to_pylist()
    assert (row["id"], row["column_2"], row["id_2"], row["_raw_2"]) == ("1", "2", "3", "4")


def test_csv_bad_encoding_row_is_malformed_and_neighbours_survive(tmp_path: Path) -> None:
    data = "a,b\n1,é\n".encode() + b"2,\xe9t\xe9\n" + "3,ü\n".encode()
    result = rows(write(tmp_path / "e.csv", data))
    assert [(r["_source_line"], r["b"], r["_raw"], r["_malformed"]) for r in result] == [
        (2, "é", None, None),
        (3, None, "2,\ufffdt\ufffd", BAD_ENCODING),
        (4, "ü", None, None),
    ]


def test_csv_gzip_and_memory(mem: str) -> None:
    fsspec.filesystem("memory").pipe(f"{mem}/e.csv.gz", gzip.compress(b"a,b\n1,2\n3,4\n"))
    result = rows(one(f"{mem}/e.csv.gz"))
    assert [(r["_source_line"], r["a"], r["b"]) for r in result] == [(2, "1", "2"), (3, "3", "4")]


def test_csv_corrupt_gzip_ends_with_a_malformed_row(tmp_path: Path) -> None:
    text = "a,b\n" + "".join(f"{i},{i * 7919 % 100003}\n" for i in range(20_000))
    packed = gzip.compress(text.encode())
    result = rows(write(tmp_path / "e.csv.gz", packed[: len(packed) // 2]))
    assert result[-1]["_malformed"].startswith("corrupt gzip stream:")
    assert result[-1]["_source_line"] == len(result) + 1
    assert 0 < len(result) < 20_000


@pytest.mark.parametrize("text", ["", "\n\n", "a,b\n"])
def test_csv_empty_or_header_only_has_no_rows(tmp_path: Path, text: str) -> None:
    assert rows(write(tmp_path / "e.csv", text)) == []


# JSON ----------------------------------------------------------------------------------------
def test_json_array_elements_become_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", '[\n {"a": 1, "b": "é"},\n 2,\n {"c": [1, 2]}\n]')
    result = rows(path, 2)
    assert lines_of(result) == [
        (1, '{"a":1,"b":"é"}', None),
        (2, "2", None),
        (3, '{"c":[1,2]}', None),
    ]


def test_json_single_object_is_one_row(tmp_path: Path) -> None:
    assert lines_of(rows(write(tmp_path / "e.json", '\ufeff{"a": 1}'))) == [(1, '{"a":1}', None)]


def test_json_invalid_file_is_one_malformed_row(tmp_path: Path) -> None:
    text = '[{"a": 1},' + " " * 20_000 + "oops"
    [row] = rows(write(tmp_path / "e.json", text))
    assert row["_raw"] == text[:10_000]
    assert row["_malformed"].startswith("invalid JSON array: ")
    assert row["_source_line"] == 1


def test_json_scalar_document_is_one_malformed_row(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path / "e.json", "42"))
    assert (row["_raw"], row["_malformed"]) == ("42", "expected a JSON array of objects")


def test_json_gzip_and_bad_encoding_element(tmp_path: Path) -> None:
    data = b'[{"a": "ok"}, {"a": "\xe9"}]'
    result = rows(write(tmp_path / "e.json.gz", gzip.compress(data)))
    assert lines_of(result) == [(1, '{"a":"ok"}', None), (2, '{"a":"\ufffd"}', BAD_ENCODING)]


# Parquet -------------------------------------------------------------------------------------
def parquet_bytes(table: pa.Table, **kw: Any) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kw)
    return buf.getvalue()


def test_parquet_keeps_types_and_numbers_rows(tmp_path: Path) -> None:
    table = pa.table({"n": pa.array(range(10), pa.int64()), "s": [f"v{i}" for i in range(10)]})
    path = write(tmp_path / "e.parquet", parquet_bytes(table, row_group_size=3))
    reader = read_batches(one(path), 4)
    assert reader.schema.field("n").type == pa.int64()
    batches = list(reader)
    assert max(b.num_rows for b in batches) <= 4
    result = pa.Table.from_batches(batches).to_pylist()
    assert [(r["_source_line"], r["n"], r["s"]) for r in result] == [
        (i + 1, i, f"v{i}") for i in range(10)
    ]
    assert all(r["_malformed"] is None for r in result)


def test_parquet_gzip_and_meta_name_clash(tmp_path: Path) -> None:
    table = pa.table({"_source_line": ["x", "y"], "v": [1.5, 2.5]})
    path = write(tmp_path / "e.pq.gz", gzip.compress(parquet_bytes(table)))
    result = rows(path)
    assert [(r["_source_line"], r["_source_line_2"], r["v"]) for r in result] == [
        (1, "x", 1.5),
        (2, "y", 2.5),
    ]


def test_parquet_damaged_mid_file_keeps_earlier_rows_then_one_malformed_row(
    tmp_path: Path,
) -> None:
    table = pa.table({"n": pa.array(range(100_000), pa.int64())})
    data = bytearray(parquet_bytes(table, row_group_size=1000, compression="snappy"))
    data[len(data) // 2 : len(data) // 2 + 200] = b"\x00" * 200  # a row group, not the footer
    result = rows(write(tmp_path / "e.parquet", bytes(data)), 1000)
    *good, last = result
    assert 0 < len(good) < 100_000
    assert [r["_source_line"] for r in good] == list(range(1, len(good) + 1))
    assert last["n"] is None
    assert last["_source_line"] == len(good) + 1
    assert last["_malformed"].startswith("unreadable Parquet: ")


def test_corrupt_parquet_is_one_malformed_row(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path / "e.parquet", b"PAR1 this is not parquet at all PAR1"))
    assert row["_malformed"].startswith("unreadable Parquet: ")
    assert (row["_raw"], row["_source_line"]) == ("", 1)


# Accounting through the kernel ------------------------------------------------------------
def test_kernel_accounts_for_every_non_blank_line(tmp_path: Path) -> None:
    lines = [json.dumps(event(i)) for i in range(300)]
    lines[5] = "{not json"
    lines[9] = json.dumps(event(9, event_type="dance"))
    lines[20] = ""
    lines[21] = "   "
    lines[40] = json.dumps(event(39))  # a duplicate key of line 40
    lines[77] = "[1, 2]"
    raw = "\r\n".join(lines).encode()
    raw = raw.replace(b'"s100"', b'"s\xff100"')  # one line with bad encoding
    path = write(tmp_path / "e.ndjson", raw)
    non_blank = sum(1 for line in lines if line.strip())

    kernel = Kernel(ContractRegistry().get("listening_events"))
    valid = rejected = duplicates = 0
    reasons: dict[str, int] = {}
    for batch in read_batches(one(path), 64, block_bytes=1000):
        out = kernel.run(batch)
        valid += out.valid.num_rows
        rejected += out.rejected.num_rows
        duplicates += out.duplicates
        for k, v in out.reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    assert valid + rejected + duplicates == non_blank
    assert reasons["malformed"] == 3  # invalid JSON, not an object, bad encoding
    assert reasons["enum:event_type"] == 1
    assert duplicates == 1


def test_kernel_accounts_for_every_csv_record(tmp_path: Path) -> None:
    header = "event_id,user_id,event_type,song_id,timestamp"
    body = [f"e{i},u{i},play,s{i},2024-05-01T12:00:00Z" for i in range(50)]
    body[3] = "e3,u3,play"  # wrong column count
    body[4] = "e4,u4,play,s4,"  # empty timestamp: NULL, so required fails
    path = write(tmp_path / "e.csv", "\n".join([header, *body]) + "\n")
    kernel = Kernel(ContractRegistry().get("listening_events"))
    results = [kernel.run(b) for b in read_batches(one(path), 16)]
    assert sum(r.total for r in results) == 50
    rejected = pa.concat_tables([r.rejected for r in results]).to_pylist()
    by_line = {r["source_line"]: r for r in rejected}
    assert by_line[5]["reasons"] == ["malformed"]
    assert by_line[5]["record"] == "e3,u3,play"
    assert by_line[6]["reasons"] == ["required:timestamp"]
