"""Compact UTF-8 JSON text for records, fast enough for millions of NDJSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _json_encoder() -> Callable[[Any], str]:
    """Compact UTF-8 JSON, as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`.

    `JSONEncoder.encode` builds a new C encoder on every call; this builds it once, because
    encoding is the largest single cost of writing NDJSON.
    """
    slow = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # not CPython: the pure-Python path gives the same text
        return slow.encode
    fast = make(
        None, slow.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    join = "".join
    return lambda value: join(fast(value, 0))


ENCODE = _json_encoder()
