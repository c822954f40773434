"""Resolving inputs: formats from extensions, folders, globs and URIs into files to read."""

from __future__ import annotations

import gzip
from pathlib import Path

import fsspec
import pytest

from tests.sources.readers.conftest import mem, rows, write
from trackline.errors import InputNotFoundError, UsageError
from trackline.sources import files, readers
from trackline.sources.base import FORMATS
from trackline.sources.files import EXTENSIONS, detect, expand

__all__ = ["mem"]  # a fixture, used by name


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


def test_every_extension_names_a_format_with_a_reader() -> None:
    assert set(EXTENSIONS.values()) == set(FORMATS) == set(readers.READERS)


def test_readers_api_stays_importable_from_files() -> None:
    # other packages import these from sources.files: keep them there
    assert files.read_batches is readers.read_batches
    assert files.LINES_SCHEMA is readers.LINES_SCHEMA
    assert files.unique_names is readers.unique_names
