"""Input files: resolve paths and globs, then read each format as bounded Arrow batches.

Every record in a file becomes exactly one row (design.md 3.2): a line that is not JSON, a CSV
row with the wrong number of fields, bytes that are not UTF-8 or a truncated gzip stream are rows
with a `_malformed` reason and their text in `_raw`, never an exception and never a silent drop.
Only I/O failures raise (`TracklineError`, naming the file).

Shapes per format (see sources/base.py):
- ndjson: json shape, `_source_line` is the physical line in the decompressed file. Lines that
  are empty or hold only spaces, tabs and CRs are not records and get no row.
- json: json shape, one row per element of the top-level array (a lone object is one element);
  `_source_line` is the element's 1-based index. The file is read whole: a JSON document cannot
  be split into records without a streaming parser.
- csv: columns shape, every field a string; an empty field (quoted or not) is NULL, i.e.
  missing; nothing else (`NA`, `null`) is. `_source_line` is the record number plus the lines
  the header took, so it is the physical line unless a quoted field spans lines or blank lines
  were skipped. The first non-blank line is the header; names are trimmed, and an empty,
  repeated or reserved (`_raw`...) name gets a suffix (see `unique_names`). A malformed row has
  every field NULL and its text in `_raw`.
- parquet: columns shape with the file's own types plus `_malformed` (set only on the one row
  that reports a file damaged mid-way); `_source_line` is the 1-based row number.

All access goes through fsspec, so a local path and `memory://`, `gs://` or `s3://` URIs read the
same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from trackline.errors import InputNotFoundError, TracklineError, UsageError
from trackline.sources.base import Format, InputFile

EXTENSIONS: dict[str, Format] = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SUPPORTED = ", ".join(EXTENSIONS) + " (each optionally followed by .gz)"

BLOCK_BYTES = 16 << 20  # ndjson/csv read size: large enough to amortise per-block overhead
MAX_LINE_BYTES = 64 << 20  # a longer ndjson line is one malformed row, so memory stays bounded
RAW_TEXT_LIMIT = 10_000  # characters of text kept in `_raw` for a whole-file failure
BAD_ENCODING = "bad encoding (not UTF-8)"
BOM = b"\xef\xbb\xbf"

# Undecodable bytes become this noncharacter (Unicode reserves it for internal use), so
# records that held them can be found after parsing and reported as bad encoding.
_SENTINEL = "\ufdd0"
_SENTINEL_ERRORS = "trackline.sentinel"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer
_GLOB_CHARS = frozenset("*?[")
_NL, _CR, _SP, _TAB = 10, 13, 32, 9


def _sentinel(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _SENTINEL * (exc.end - exc.start), exc.end


codecs.register_error(_SENTINEL_ERRORS, _sentinel)

META_SCHEMA = pa.schema(
    [
        ("_raw", pa.string()),
        ("_source_file", pa.string()),
        ("_source_line", pa.int64()),
        ("_malformed", pa.string()),
    ]
)

# NDJSON and JSON rows: `_raw` as string views (NDJSON lines point into the block read)
LINES_SCHEMA = pa.schema([pa.field("_raw", pa.string_view()), *list(META_SCHEMA)[1:]])


# Resolving paths -----------------------------------------------------------------------------
def detect(name: str) -> tuple[Format, Literal["gzip"] | None] | None:
    """The format and compression a file name implies, or None when the extension is unknown."""
    lower = name.lower()
    compression: Literal["gzip"] | None = None
    if lower.endswith(".gz"):
        lower, compression = lower[:-3], "gzip"
    dot = lower.rfind(".")
    fmt = EXTENSIONS.get(lower[dot:]) if dot >= 0 else None
    return (fmt, compression) if fmt else None


def expand(paths: Sequence[str]) -> list[InputFile]:
    """Resolve files, folders and globs (local or fsspec URIs) into readable input files.

    Folders are walked recursively; folders and globs skip hidden entries and files whose
    format is unknown, while a file named explicitly must have a known extension. Order: the
    order of `paths`, each expansion sorted; a file reached twice is listed once.
    """
    out: dict[str, InputFile] = {}
    for path in paths:
        for f in _expand_one(path):
            out.setdefault(f.uri, f)
    return list(out.values())


def _expand_one(path: str) -> list[InputFile]:
    try:
        fs, root = fsspec.core.url_to_fs(path)
        if fs.isfile(root):
            return [_named_file(fs, path, root, fs.info(root))]
        if fs.isdir(root):
            found = fs.find(root, detail=True)
            base = root.rstrip("/")
        elif _GLOB_CHARS & set(path):
            found = fs.glob(root, detail=True)
            base = _glob_base(root)
            for p, info in list(found.items()):
                if info.get("type") == "directory":
                    found.update(fs.find(p, detail=True))
        else:
            found = {}
    except OSError as exc:
        raise TracklineError(f"cannot list input {path!r}: {exc}") from exc
    if not found:
        what = (
            "matched no files: check the pattern, and quote it so the shell leaves it alone"
            if _GLOB_CHARS & set(path)
            else "does not exist: check the path"
        )
        raise InputNotFoundError(f"input {path!r} {what}")
    files = [
        _input_file(fs, p, info)
        for p, info in sorted(found.items())
        if info.get("type") != "directory" and not _hidden(p, base) and detect(p) is not None
    ]
    if not files:
        raise InputNotFoundError(
            f"input {path!r} holds no visible files of a supported type "
            f"({SUPPORTED}): check the path"
        )
    return files


def _named_file(fs: Any, path: str, root: str, info: dict[str, Any]) -> InputFile:
    if detect(root) is None:
        raise UsageError(
            f"cannot tell the format of {path!r} from its extension; supported: "
            f"{SUPPORTED}. Rename the file"
        )
    return _input_file(fs, root, info)


def _is_local(fs: Any) -> bool:
    return "file" in ([fs.protocol] if isinstance(fs.protocol, str) else fs.protocol)


def _input_file(fs: Any, path: str, info: dict[str, Any]) -> InputFile:
    detected = detect(path)
    assert detected is not None  # callers filter on detect()
    uri = path if _is_local(fs) else fs.unstrip_protocol(path)
    return InputFile(
        uri=uri, format=detected[0], compression=detected[1], size=int(info.get("size") or 0)
    )


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (hidden checks start below it)."""
    cut = min(i for i, ch in enumerate(pattern) if ch in _GLOB_CHARS)
    return pattern[:cut].rsplit("/", 1)[0]


def _hidden(path: str, base: str) -> bool:
    rel = path[len(base) :] if path.startswith(base) else path.rsplit("/", 1)[-1]
    return any(part.startswith(".") for part in rel.split("/"))


# Reading ---------------------------------------------------------------------------------------
def read_batches(
    f: InputFile, batch_rows: int = 65_536, *, block_bytes: int = BLOCK_BYTES
) -> pa.RecordBatchReader:
    """Stream one file as record batches of at most `batch_rows` rows, one schema per file.

    Memory is bounded by `block_bytes` (and `MAX_LINE_BYTES`), except for JSON arrays, which
    are read whole. The file is opened here; iterate the reader to the end, or drop it, to
    close it. Raises `TracklineError` only for I/O failures, never for bad content.
    """
    if batch_rows < 1 or block_bytes < 1:
        raise UsageError("batch_rows and block_bytes must be positive")
    stream = _Stream(f)
    try:
        if f.format == "ndjson":
            schema, batches = LINES_SCHEMA, _ndjson(stream, block_bytes)
        elif f.format == "json":
            schema, batches = LINES_SCHEMA, _json(stream, batch_rows)
        elif f.format == "csv":
            schema, batches = _csv(stream, block_bytes)
        else:
            schema, batches = _parquet(stream, batch_rows)
    except BaseException:
        stream.close()
        raise
    return pa.RecordBatchReader.from_batches(schema, _bounded(schema, batches, batch_rows, stream))


def _bounded(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], batch_rows: int, stream: _Stream
) -> Iterator[pa.RecordBatch]:
    """Regroup batches into `batch_rows` rows each (the last may be short); close the file."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_rows:
                table = pa.Table.from_batches(pending, schema)
                yield _one_batch(table.slice(0, batch_rows), schema)
                pending = table.slice(batch_rows).to_batches()
                rows -= batch_rows
        if rows:
            yield _one_batch(pa.Table.from_batches(pending, schema), schema)
    finally:
        stream.close()


def _one_batch(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """One contiguous batch (copies only when the rows span several input batches)."""
    combined = table.combine_chunks()
    return pa.RecordBatch.from_arrays([c.chunk(0) for c in combined.columns], schema=schema)


class _Stream:
    """A read-only file that tells content errors (gzip) from I/O errors.

    gzip is decompressed here with zlib rather than `gzip.GzipFile`, which discards what it
    decompressed in a read that then hits a corrupt or truncated spot: this way everything
    before the damage is still returned. The damage itself reads as end-of-file and is kept in
    `gzip_error`. Any OSError of the underlying file raises `TracklineError` naming the file.
    """

    def __init__(self, f: InputFile) -> None:
        self.file = f
        self.gzip_error: str | None = None
        self._gzip = f.compression == "gzip"
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""  # compressed bytes not yet fed to zlib
        self._in_member = False  # inside a gzip member whose end is not yet seen
        self._pushback = b""  # decompressed bytes read ahead by readline()
        self._fh: Any = None
        try:
            fs, path = fsspec.core.url_to_fs(f.uri)
            if _is_local(fs) and not self._gzip:  # Arrow's own file: reads into Arrow buffers
                self._fh = pa.OSFile(path, "rb")
            else:
                self._fh = fs.open(path, "rb")
        except OSError as exc:
            raise self._io_error(exc) from exc

    def _io_error(self, exc: OSError) -> TracklineError:
        return TracklineError(f"cannot read {self.file.uri}: {exc}")

    def _raw(self, n: int) -> bytes:
        try:
            native = isinstance(self._fh, pa.NativeFile)
            data: bytes = self._fh.read(None if native and n < 0 else n)
        except OSError as exc:
            raise self._io_error(exc) from exc
        return data

    def read(self, n: int = -1) -> bytes:
        head, self._pushback = self._pushback, b""
        if n >= 0 and len(head) >= n:
            head, self._pushback = head[:n], head[n:]
            return head
        want = -1 if n < 0 else n - len(head)
        rest = self._gunzip(want) if self._gzip else self._raw(want)
        return head + rest if head else rest

    def _gunzip(self, n: int) -> bytes:
        """Up to n decompressed bytes (all when n < 0); b"" at the end or after damage."""
        want = sys.maxsize if n < 0 else n
        parts: list[bytes] = []
        size = 0
        while size < want and self.gzip_error is None:
            if not self._input:
                self._input = self._raw(1 << 20)
                if not self._input:
                    if self._in_member:
                        self.gzip_error = (
                            "corrupt gzip stream: compressed file ended before the "
                            "end-of-stream marker was reached"
                        )
                    break
            self._in_member = True
            try:
                data = self._zlib.decompress(self._input, min(want - size, BLOCK_BYTES))
            except zlib.error as exc:
                self.gzip_error = f"corrupt gzip stream: {exc}"
                break
            parts.append(data)
            size += len(data)
            if self._zlib.eof:  # a member ended; another may follow (concatenated gzip)
                self._input = self._zlib.unused_data
                self._zlib = zlib.decompressobj(_GZIP_WBITS)
                self._in_member = False
            else:
                self._input = self._zlib.unconsumed_tail
        return b"".join(parts)

    def read_buffer(self, n: int) -> pa.Buffer:
        """Like `read`, as an Arrow buffer (no copy into a Python object for local files)."""
        if not self._gzip and not self._pushback and isinstance(self._fh, pa.NativeFile):
            try:
                return self._fh.read_buffer(n)
            except OSError as exc:
                raise self._io_error(exc) from exc
        return pa.py_buffer(self.read(n))

    def readline(self) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = self.read(1 << 16)
            nl = chunk.find(b"\n")
            if nl >= 0:
                parts.append(chunk[: nl + 1])
                self._pushback = chunk[nl + 1 :] + self._pushback
                break
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)

    def has_data(self, ignore: bytes = b"\r\n") -> bool:
        """Whether any byte outside `ignore` is left; what it reads ahead is pushed back."""
        seen: list[bytes] = []
        found = False
        while chunk := self.read(1 << 16):
            seen.append(chunk)
            if chunk.strip(ignore):
                found = True
                break
        self._pushback = b"".join(seen) + self._pushback
        return found

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return int(self._fh.seek(offset, whence))
        except OSError as exc:
            raise self._io_error(exc) from exc

    def tell(self) -> int:
        return int(self._fh.tell())

    def seekable(self) -> bool:
        return not self._gzip and bool(self._fh.seekable())

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._fh is None or bool(self._fh.closed)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class _Utf8Stream:
    """Passes a byte stream on as valid UTF-8, undecodable bytes replaced by `_SENTINEL`.

    Lets pyarrow's CSV reader parse files with bad bytes (it cannot otherwise) while the rows
    that held them can still be found and reported.
    """

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(_SENTINEL_ERRORS)
        self._buffer = b""
        self._eof = False
        self.saw_bad = False
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buffer) < n):
            chunk = self._stream.read(n - len(self._buffer) if n > 0 else -1)
            self._eof = not chunk or n < 0
            text = self._decoder.decode(chunk, final=self._eof)
            self.saw_bad = self.saw_bad or _SENTINEL in text
            self._buffer += text.encode("utf-8")
        if n < 0 or n >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _constant(value: str, n: int) -> pa.Array:
    """A string column of n copies of `value`, built without a Python loop."""
    return pa.array([value], pa.string()).take(pa.nulls(n, pa.int32()).fill_null(0))


def _arange(start: int, n: int) -> pa.Array:
    """int64 values start, start+1, ..., start+n-1, vectorised."""
    if n == 0:
        return pa.array([], pa.int64())
    return pc.add(pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1)), start - 1)


def _meta_batch(
    f: InputFile, raw: Sequence[str | None], lines: Sequence[int], reasons: Sequence[str | None]
) -> pa.RecordBatch:
    """A json-shape batch from Python lists (malformed and JSON rows, not the hot path)."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array(raw, pa.string_view()),
            _constant(f.uri, len(raw)),
            pa.array(lines, pa.int64()),
            pa.array(reasons, pa.string()),
        ],
        schema=LINES_SCHEMA,
    )


def _shorten(text: str) -> str:
    return text[:RAW_TEXT_LIMIT].replace(_SENTINEL, "\ufffd")


# ndjson: the hot path --------------------------------------------------------------------------
def _ndjson(stream: _Stream, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """Read large blocks and cut each into lines without copying the text.

    Lines become string views into the block (see `_lines`). The unfinished line at the end of
    a block is carried and completed by the next block's first line, so no block is ever
    copied whole; a line that grows past `MAX_LINE_BYTES` becomes one malformed row and is
    skipped to its end.
    """
    f = stream.file
    line = 1  # physical number of the first line not yet emitted
    carry: list[bytes] = []  # the current, unfinished line
    carried = 0
    skipping: bytes | None = None  # head of an over-long line being skipped
    first = True
    while (chunk := stream.read_buffer(block_bytes)).size:
        data = np.frombuffer(chunk, np.uint8)
        if skipping is not None:
            hits = np.flatnonzero(data == _NL)
            if not len(hits):
                continue
            yield _too_long(f, skipping, line)
            line, skipping = line + 1, None
            chunk, data = chunk.slice(int(hits[0]) + 1), data[int(hits[0]) + 1 :]
        newlines = np.flatnonzero(data == _NL)
        if not len(newlines):
            carry.append(chunk.to_pybytes())
            carried += chunk.size
            if carried > MAX_LINE_BYTES:
                skipping = b"".join(carry)[:RAW_TEXT_LIMIT]
                carry, carried = [], 0
            continue
        head, cut = int(newlines[0]), int(newlines[-1])
        if carry:  # the carried line ends at this block's first newline: a batch of its own
            joined = b"".join([*carry, chunk.slice(0, head).to_pybytes()])
            batch, count = _split(f, pa.py_buffer(joined), line, strip_bom=first)
            line, first = line + count, False
            yield batch
            if cut > head:
                body = chunk.slice(head + 1, cut - head - 1)
                batch, count = _split(f, body, line, newlines[1:-1] - (head + 1))
                line += count
                yield batch
        else:
            batch, count = _split(f, chunk.slice(0, cut), line, newlines[:-1], strip_bom=first)
            line, first = line + count, False
            yield batch
        carry = [chunk.slice(cut + 1).to_pybytes()]
        carried = chunk.size - cut - 1
    if skipping is not None:
        yield _too_long(f, skipping, line)
        line += 1
    elif carried:
        batch, count = _split(f, pa.py_buffer(b"".join(carry)), line, strip_bom=first)
        line += count
        yield batch
    if stream.gzip_error:
        yield _meta_batch(f, [""], [line], [stream.gzip_error])


def _too_long(f: InputFile, head: bytes, line: int) -> pa.RecordBatch:
    text = head.decode("utf-8", "replace")
    return _meta_batch(f, [text], [line], [f"line longer than {MAX_LINE_BYTES} bytes"])


def _split(
    f: InputFile,
    body: pa.Buffer,
    first_line: int,
    newlines: np.ndarray | None = None,
    *,
    strip_bom: bool = False,
) -> tuple[pa.RecordBatch, int]:
    """Rows for a block of whole lines (final newline cut off), and its physical line count.

    `newlines` are the block's newline positions when the caller already found them.
    """
    if strip_bom and body.size >= 3 and body.slice(0, 3).to_pybytes() == BOM:
        body = body.slice(3)
        newlines = None if newlines is None else newlines - 3
    data = np.frombuffer(body, np.uint8)
    if newlines is None:
        newlines = np.flatnonzero(data == _NL)
    starts, ends = _bounds(data, newlines)
    count = len(starts)
    numbers = _arange(first_line, count)
    keep = _not_blank(data, starts, ends)
    if keep is not None:
        starts, ends = starts[keep], ends[keep]
        numbers = numbers.filter(pa.array(keep))
    malformed: pa.Array | None = None
    try:  # one SIMD pass over the block says whether every line is UTF-8
        pa.Array.from_buffers(
            pa.binary(), 1, [None, pa.array([0, body.size], pa.int32()).buffers()[1], body]
        ).cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8 somewhere: decide line by line, for this block only
        text, malformed = _decode_lines(_views(body, data, starts, ends, pa.binary_view()))
        lines = text.cast(pa.string_view())
    else:
        lines = _views(body, data, starts, ends, pa.string_view())
    n = len(lines)
    batch = pa.RecordBatch.from_arrays(
        [
            lines,
            _constant(f.uri, n),
            numbers,
            malformed if malformed is not None else pa.nulls(n, pa.string()),
        ],
        schema=LINES_SCHEMA,
    )
    return batch, count


def _bounds(data: np.ndarray, newlines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before a final CR) of every line of a block."""
    n = len(newlines) + 1
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = newlines + 1
    ends = np.empty(n, np.int64)
    ends[:-1] = newlines
    ends[-1] = len(data)
    has_text = ends > starts
    cr = np.zeros(n, bool)
    cr[has_text] = data[ends[has_text] - 1] == _CR
    return starts, ends - cr


def _not_blank(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Which lines are records, not blank (None when every line is, the usual case).

    Only a line that is empty or starts with a space, tab or CR can be blank, and such lines
    are rare: they alone are looked at one by one.
    """
    head = np.full(len(starts), _NL, np.uint8)
    has_text = ends > starts
    head[has_text] = data[starts[has_text]]
    maybe = np.flatnonzero(~has_text | (head == _SP) | (head == _TAB) | (head == _CR))
    blank = [i for i in maybe if not data[starts[i] : ends[i]].tobytes().strip(b" \t\r")]
    if not blank:
        return None
    keep = np.ones(len(starts), bool)
    keep[blank] = False
    return keep


def _views(
    body: pa.Buffer, data: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: pa.DataType
) -> pa.Array:
    """Lines of a block as a string (or binary) view array that points into `body`.

    Arrow's view layout (16 bytes a value: the length, then the value itself when it fits in
    12 bytes, else its first 4 bytes, a buffer index and an offset) is built with numpy, so the
    text is never copied; DuckDB reads this layout natively.
    """
    n = len(starts)
    if not len(data) or not n:
        return pa.array([""] * n, kind)
    lengths = (ends - starts).astype(np.int32)
    views = np.zeros((n, 4), np.int32)
    views[:, 0] = lengths
    raw = views.view(np.uint8).reshape(n, 16)
    last = len(data) - 1
    inline = lengths <= 12
    if inline.any():
        at = np.arange(12)
        idx = np.minimum(starts[inline][:, None] + at, last)
        raw[inline, 4:16] = data[idx] * (at < lengths[inline][:, None])
    out = ~inline
    if out.any():
        # the 4-byte prefix of a value at offset i is the little-endian int32 at byte i: one
        # gather from an overlapping view instead of four (such values are over 12 bytes, so
        # every one of these reads stays inside the block)
        at = starts[out]
        words = np.ndarray((len(data) - 3,), "<i4", data, 0, (1,))
        views[out, 1] = words[at]
        views[out, 3] = at
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(views), body])


def _decode_lines(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Decode binary lines one by one: bad ones are replaced text with a reason."""
    text: list[str] = []
    reasons: list[str | None] = []
    for value in lines.to_pylist():
        try:
            text.append(value.decode("utf-8"))
            reasons.append(None)
        except UnicodeDecodeError:
            text.append(value.decode("utf-8", "replace"))
            reasons.append(BAD_ENCODING)
    return pa.array(text, pa.string()), pa.array(reasons, pa.string())


# json ---------------------------------------------------------------------------------------
def _json(stream: _Stream, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """One row per element of a JSON array (whole file in memory: see module docstring)."""
    f = stream.file
    data = stream.read()
    text = data.decode("utf-8", _SENTINEL_ERRORS).removeprefix("\ufeff")
    del data
    count = 0
    if text.strip() or stream.gzip_error is None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            hint = " (one object per line? name it .ndjson)" if "Extra data" in str(exc) else ""
            yield _meta_batch(f, [_shorten(text)], [1], [f"invalid JSON array: {exc}{hint}"])
            count = 1
        else:
            if isinstance(doc, dict):
                doc = [doc]
            if not isinstance(doc, list):
                yield _meta_batch(f, [_shorten(text)], [1], ["expected a JSON array of objects"])
                count = 1
            else:
                del text
                for start in range(0, len(doc), batch_rows):
                    yield _json_rows(f, doc[start : start + batch_rows], start + 1)
                count = len(doc)
    if stream.gzip_error:
        yield _meta_batch(f, [""], [count + 1], [stream.gzip_error])


def _json_rows(f: InputFile, elements: list[Any], first: int) -> pa.RecordBatch:
    raw: list[str] = []
    reasons: list[str | None] = []
    for element in elements:
        s = json.dumps(element, ensure_ascii=False, separators=(",", ":"))
        bad = _SENTINEL in s
        raw.append(s.replace(_SENTINEL, "\ufffd") if bad else s)
        reasons.append(BAD_ENCODING if bad else None)
    return _meta_batch(f, raw, range(first, first + len(raw)), reasons)


# csv ----------------------------------------------------------------------------------------
def unique_names(names: Iterable[str], reserved: Iterable[str] = ()) -> list[str]:
    """Make column names usable: trimmed, `column_<i>` for an empty name, `<name>_<k>` for a
    repeat (or a name in `reserved`), counting k from 2."""
    taken = set(reserved)
    out: list[str] = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column_{i}"
        candidate, k = name, 2
        while candidate in taken:
            candidate, k = f"{name}_{k}", k + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _csv(stream: _Stream, block_bytes: int) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Read the header here (the schema needs it) and stream the records with pyarrow."""
    header_lines, header = _read_header(stream)
    names = unique_names(header, reserved=META_SCHEMA.names)
    schema = pa.schema([(n, pa.string()) for n in names] + list(META_SCHEMA))
    return schema, _csv_records(stream, schema, names, header_lines, block_bytes)


def _read_header(stream: _Stream) -> tuple[int, list[str]]:
    """The header fields and how many physical lines they took (leading blank lines too)."""
    lines = 0
    text = ""
    while not text.strip():
        raw = stream.readline()
        if not raw:
            return lines, []
        lines += 1
        text = raw.decode("utf-8", "replace")
        if lines == 1:
            text = text.removeprefix("\ufeff")
    while text.count('"') % 2 and (more := stream.readline()):  # a quoted name spans lines
        lines += 1
        text += more.decode("utf-8", "replace")
    return lines, next(csv.reader(io.StringIO(text, newline="")), [])


def _csv_records(
    stream: _Stream, schema: pa.Schema, names: list[str], header_lines: int, block_bytes: int
) -> Iterator[pa.RecordBatch]:
    f = stream.file
    width = len(names)
    done = 0  # records (good or bad) numbered so far
    if width and stream.has_data():  # pyarrow rejects a stream without records
        bad_rows: list[tuple[int | None, str, int]] = []  # (record number, text, fields)

        def on_invalid(row: Any) -> str:
            bad_rows.append(
                (
                    row.number if row.number and row.number > 0 else None,
                    row.text,
                    row.actual_columns,
                )
            )
            return "skip"

        utf8 = _Utf8Stream(stream)
        try:
            reader = pcsv.open_csv(
                pa.PythonFile(utf8, mode="r"),
                read_options=pcsv.ReadOptions(
                    column_names=names, use_threads=False, block_size=max(block_bytes, 1 << 20)
                ),
                parse_options=pcsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
            for batch in reader:
                good = batch.num_rows
                ours = _claim(bad_rows, done, good)
                numbers = _record_numbers(done, good, [b[0] for b in ours])
                done += good + len(ours)
                lines = pc.add(numbers, header_lines)
                parts = [*_csv_good(f, schema, batch, lines, utf8.saw_bad)]
                parts += _csv_bad(f, schema, ours, width, header_lines)
                yield from _in_line_order(schema, parts)
        except pa.ArrowException as exc:  # e.g. a row larger than a block: report, stop
            ours = _claim(bad_rows, done, None)
            yield from _csv_bad(f, schema, ours, width, header_lines)
            done = max([done + len(ours), *(n or 0 for n, _, _ in ours)])
            yield _csv_rows(
                f,
                schema,
                [""],
                [header_lines + done + 1],
                [f"unreadable CSV: {str(exc).splitlines()[0]}"],
            )
            done += 1
        else:
            yield from _csv_bad(f, schema, _claim(bad_rows, done, None), width, header_lines)
    if stream.gzip_error:
        yield _csv_rows(f, schema, [""], [header_lines + done + 1], [stream.gzip_error])


def _in_line_order(schema: pa.Schema, parts: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Merge a window's good and malformed rows by line (only sorts when there are both)."""
    parts = [p for p in parts if p.num_rows]
    if len(parts) <= 1:
        yield from parts
        return
    yield from pa.Table.from_batches(parts, schema).sort_by("_source_line").to_batches()


def _claim(
    bad_rows: list[tuple[int | None, str, int]], done: int, good: int | None
) -> list[tuple[int | None, str, int]]:
    """Take the invalid rows that fall among the next `good` parsed rows (all when None).

    pyarrow parses one block ahead, so the handler may already have seen rows of the next
    batch; their record numbers (increasing, as parsing is serial) tell where they belong.
    """
    k = len(bad_rows)
    if good is not None:
        k = 0
        while k < len(bad_rows):
            number = bad_rows[k][0]
            if number is not None and number > done + good + k + 1:
                break
            k += 1
    ours = bad_rows[:k]
    del bad_rows[:k]
    return ours


def _record_numbers(done: int, good: int, bad: list[int | None]) -> pa.Array:
    """Record numbers of the good rows in a window that also holds the `bad` ones."""
    numbers = _arange(done + 1, good + len(bad))
    known = [b for b in bad if b is not None]
    if known:
        numbers = numbers.filter(pc.invert(pc.is_in(numbers, pa.array(known, pa.int64()))))
    return numbers.slice(0, good)


def _csv_good(
    f: InputFile, schema: pa.Schema, batch: pa.RecordBatch, lines: pa.Array, check_encoding: bool
) -> Iterator[pa.RecordBatch]:
    """Parsed rows as a columns-shape batch; rows holding undecodable bytes become malformed."""
    columns = list(batch.columns)
    if check_encoding and columns:
        bad = pc.fill_null(pc.match_substring(columns[0], _SENTINEL), False)
        for column in columns[1:]:
            bad = pc.or_(bad, pc.fill_null(pc.match_substring(column, _SENTINEL), False))
        if pc.any(bad).as_py():
            rows = batch.filter(bad).to_pylist()
            yield _csv_rows(
                f,
                schema,
                [_csv_text(list(r.values())) for r in rows],
                lines.filter(bad).to_pylist(),
                [BAD_ENCODING] * len(rows),
            )
            keep = pc.invert(bad)
            batch, lines = batch.filter(keep), lines.filter(keep)
            columns = list(batch.columns)
    n = batch.num_rows
    yield pa.RecordBatch.from_arrays(
        [*columns, pa.nulls(n, pa.string()), _constant(f.uri, n), lines, pa.nulls(n, pa.string())],
        schema=schema,
    )


def _csv_bad(
    f: InputFile,
    schema: pa.Schema,
    rows: list[tuple[int | None, str, int]],
    width: int,
    header_lines: int,
) -> Iterator[pa.RecordBatch]:
    if rows:
        yield _csv_rows(
            f,
            schema,
            [_shorten(text) for _, text, _ in rows],
            [header_lines + n if n is not None else None for n, _, _ in rows],
            [f"wrong column count: expected {width}, got {got}" for _, _, got in rows],
        )


def _csv_rows(
    f: InputFile,
    schema: pa.Schema,
    raw: Sequence[str],
    lines: Sequence[int | None],
    reasons: Sequence[str],
) -> pa.RecordBatch:
    """Malformed CSV rows: every field NULL, the text in `_raw`."""
    n = len(raw)
    fields = [pa.nulls(n, pa.string()) for _ in range(len(schema) - len(META_SCHEMA))]
    return pa.RecordBatch.from_arrays(
        [
            *fields,
            pa.array(raw, pa.string()),
            _constant(f.uri, n),
            pa.array(lines, pa.int64()),
            pa.array(reasons, pa.string()),
        ],
        schema=schema,
    )


def _csv_text(values: list[str | None]) -> str:
    """A parsed row written back as CSV (its original quoting is not kept)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in values])
    return out.getvalue().replace(_SENTINEL, "\ufffd")


# parquet ------------------------------------------------------------------------------------
PARQUET_META = ("_source_file", "_source_line", "_malformed")


def _parquet(stream: _Stream, batch_rows: int) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The file's typed columns plus row numbers; an unreadable file is one malformed row."""
    f = stream.file
    source: Any = stream
    if f.compression:  # Parquet needs random access: decompress to a temporary file first
        source = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the reader ends)
        shutil.copyfileobj(stream, source, BLOCK_BYTES)
        source.seek(0)
        if stream.gzip_error:
            source.close()
            return LINES_SCHEMA, iter([_meta_batch(f, [""], [1], [stream.gzip_error])])
    try:
        pf = pq.ParquetFile(source)
        file_schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        if source is not stream:
            source.close()
        return LINES_SCHEMA, iter([_meta_batch(f, [""], [1], [_unreadable(exc)])])
    names = unique_names(file_schema.names, reserved=PARQUET_META)
    schema = pa.schema(
        [pa.field(n, t.type) for n, t in zip(names, file_schema, strict=True)]
        + [META_SCHEMA.field(m) for m in PARQUET_META]
    )
    temp = source if source is not stream else None
    return schema, _parquet_rows(f, pf, schema, batch_rows, temp)


def _parquet_rows(
    f: InputFile, pf: pq.ParquetFile, schema: pa.Schema, batch_rows: int, temp: Any
) -> Iterator[pa.RecordBatch]:
    row = 1
    width = len(schema) - len(PARQUET_META)
    try:
        batches = pf.iter_batches(batch_size=batch_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as exc:
                nulls = [pa.nulls(1, schema.field(i).type) for i in range(width)]
                yield pa.RecordBatch.from_arrays(
                    [
                        *nulls,
                        _constant(f.uri, 1),
                        pa.array([row], pa.int64()),
                        pa.array([_unreadable(exc)], pa.string()),
                    ],
                    schema=schema,
                )
                return
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, _constant(f.uri, n), _arange(row, n), pa.nulls(n, pa.string())],
                schema=schema,
            )
            row += n
    finally:
        if temp is not None:
            temp.close()


def _unreadable(exc: BaseException) -> str:
    return f"unreadable Parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
