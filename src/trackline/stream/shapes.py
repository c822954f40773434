"""A micro-batch's shapes: bus messages as the kernel's input, and rejected rows as the
lake's dead letters and `meta.rejected` want them."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from trackline.bus.base import Message
from trackline.contracts.kernel import REJECTED_SCHEMA
from trackline.contracts.reasons import Malformed, Reason
from trackline.stream.events import EVENT_TYPES
from trackline.stream.writer import UNKNOWN

UNKNOWN_TYPE = Reason.UNKNOWN_EVENT_TYPE.code


def kernel_input(msgs: list[Message], idx: list[int]) -> pa.Table:
    """The kernel's json shape: raw text, message id as source, batch index as line.

    The payloads go to Arrow as one binary array and are checked as UTF-8 there; only a batch
    that holds a payload that is not UTF-8 is decoded message by message."""
    n = len(msgs)
    try:
        raw = pa.array([m.data for m in msgs], pa.binary()).cast(pa.string())
        malformed: pa.Array = pa.nulls(n, pa.string())
    except pa.ArrowInvalid:
        texts: list[str] = []
        reasons: list[str | None] = []
        for m in msgs:
            try:
                texts.append(m.data.decode("utf-8"))
                reasons.append(None)
            except UnicodeDecodeError:
                texts.append(m.data.decode("utf-8", "replace"))
                reasons.append(Malformed.NOT_UTF8.text)
        raw, malformed = pa.array(texts, pa.string()), pa.array(reasons, pa.string())
    return pa.table(
        {
            "_raw": raw,
            "_source_file": pa.array([m.id for m in msgs], pa.string()),
            "_source_line": pa.array(idx, pa.int64()),
            "_malformed": malformed,
        }
    )


def unknown_rejected(msgs: list[Message], idx: list[int]) -> pa.Table:
    """Kernel-shaped rejected rows for messages whose event_type names no contract."""
    known = ", ".join(EVENT_TYPES)
    details = [
        f"event_type {t!r} is not one of {known}"
        if (t := m.attributes.get("event_type"))
        else f"no event_type attribute ({known})"
        for m in msgs
    ]
    table = pa.table(
        {
            "record": pa.array([m.data.decode("utf-8", "replace") for m in msgs], pa.string()),
            "reasons": pa.array([[UNKNOWN_TYPE]] * len(msgs), pa.list_(pa.string())),
            "detail": pa.array(details, pa.string()),
            "source_file": pa.array([m.id for m in msgs], pa.string()),
            "source_line": pa.array(idx, pa.int64()),
        },
        schema=REJECTED_SCHEMA,
    )
    return table.append_column("dataset", pa.array([UNKNOWN] * len(msgs), pa.string()))


def for_meta(rejected: pa.Table | None, topic: str) -> pa.Table | None:
    """Rejected rows as `meta.rejected` wants them; the source is `bus:<topic>/<message id>`."""
    if rejected is None or not rejected.num_rows:
        return None
    source = pc.binary_join_element_wise(f"bus:{topic}", rejected["source_file"], "/")
    return pa.table(
        {
            "dataset": rejected["dataset"],
            "record": rejected["record"],
            "reasons": rejected["reasons"],
            "detail": rejected["detail"],
            "source_file": source,
            "source_line": pa.nulls(rejected.num_rows, pa.int64()),
        }
    )
