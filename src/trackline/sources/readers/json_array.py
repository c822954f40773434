"""JSON array: one row per element of the file's top-level array (a lone object is one).

json shape; `_source_line` is the element's 1-based index. The file is read whole: a JSON
document cannot be split into records without a streaming parser. A file that is not valid
JSON, or holds a scalar, is one malformed row with the file's text (shortened) in `_raw`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from trackline.contracts.reasons import Malformed
from trackline.sources.base import InputFile
from trackline.sources.readers.encoding import BAD_ENCODING, SENTINEL, SENTINEL_ERRORS
from trackline.sources.readers.rows import LINES_SCHEMA, meta_batch, shorten
from trackline.sources.readers.stream import ByteStream


def read(
    stream: ByteStream, *, batch_rows: int, block_bytes: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The rows of a JSON array file (`block_bytes` does not apply: the file is read whole)."""
    return LINES_SCHEMA, _elements(stream, batch_rows)


def _elements(stream: ByteStream, batch_rows: int) -> Iterator[pa.RecordBatch]:
    f = stream.file
    data = stream.read()
    text = data.decode("utf-8", SENTINEL_ERRORS).removeprefix("\ufeff")
    del data
    count = 0
    if text.strip() or stream.gzip_error is None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            hint = " (one object per line? name it .ndjson)" if "Extra data" in str(exc) else ""
            why = Malformed.INVALID_JSON_ARRAY.format(error=f"{exc}{hint}")
            yield meta_batch(f, [shorten(text)], [1], [why])
            count = 1
        else:
            if isinstance(doc, dict):
                doc = [doc]
            if not isinstance(doc, list):
                yield meta_batch(f, [shorten(text)], [1], [Malformed.NOT_AN_ARRAY.text])
                count = 1
            else:
                del text
                for start in range(0, len(doc), batch_rows):
                    yield _rows(f, doc[start : start + batch_rows], start + 1)
                count = len(doc)
    if stream.gzip_error:
        yield meta_batch(f, [""], [count + 1], [stream.gzip_error])


def _rows(f: InputFile, elements: list[Any], first: int) -> pa.RecordBatch:
    raw: list[str] = []
    reasons: list[str | None] = []
    for element in elements:
        s = json.dumps(element, ensure_ascii=False, separators=(",", ":"))
        bad = SENTINEL in s
        raw.append(s.replace(SENTINEL, "\ufffd") if bad else s)
        reasons.append(BAD_ENCODING if bad else None)
    return meta_batch(f, raw, range(first, first + len(raw)), reasons)
