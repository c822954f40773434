"""CSV reader: string fields, NULL for empty, record-based line numbers, malformed rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest

from tests.sources.readers.conftest import META, mem, one, rows, write
from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.sources.files import BAD_ENCODING, read_batches

__all__ = ["mem"]  # a fixture, used by name


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


@pytest.mark.parametrize("text", ["", "\n\n", "a,b\n"])
def test_csv_empty_or_header_only_has_no_rows(tmp_path: Path, text: str) -> None:
    assert rows(write(tmp_path / "e.csv", text)) == []


def test_csv_lines_count_blank_lines_before_and_inside_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", '\n\r\n"a\nx",b\n1,2\n3\n')
    reader = read_batches(one(path))
    assert reader.schema.names == ["a\nx", "b", *META]
    result = reader.read_all().to_pylist()
    assert [(r["_source_line"], r["a\nx"], r["_raw"]) for r in result] == [
        (5, "1", None),
        (6, None, "3"),
    ]


def test_csv_bad_encoding_in_a_quoted_field_is_written_back_as_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", b'a,b\n"x,\xff",2\n')
    [row] = rows(path)
    assert (row["a"], row["_raw"], row["_malformed"]) == (None, '"x,\ufffd",2', BAD_ENCODING)


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
