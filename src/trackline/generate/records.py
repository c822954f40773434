"""Records for a contract: valid ones, with invalid ones spread evenly among them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from trackline.contracts.spec import Contract
from trackline.errors import UsageError
from trackline.generate.context import Ctx
from trackline.generate.invalid import invalid_record
from trackline.generate.labels import Labelled, Record, Row
from trackline.generate.plan import Plan


def check_args(count: int, invalid_share: float) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UsageError(f"count must be a whole number >= 0, got {count!r}")
    share_ok = isinstance(invalid_share, int | float) and not isinstance(invalid_share, bool)
    if not share_ok or not 0.0 <= invalid_share <= 1.0:  # also rejects NaN
        raise UsageError(f"invalid share must be between 0 and 1, got {invalid_share!r}")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def labelled_records(
    contract: Contract,
    count: int,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
) -> Iterator[Labelled]:
    """`records`, each with its kind and the reason code the kernel must report.

    Exactly round(count * invalid_share) records are invalid, spread evenly; they take the
    applicable kinds in turn from a seeded start, so every kind appears once there are at least
    as many invalid records as kinds. Arguments are checked now, not at the first next().
    """
    check_args(count, invalid_share)
    return _generate(contract, count, invalid_share, seed, _utc(now))


def _generate(
    contract: Contract, count: int, share: float, seed: int, now: datetime
) -> Iterator[Labelled]:
    plan = Plan(contract)
    c = Ctx(f"{contract.name}:{seed}", now, count)  # two datasets never share event ids
    start = c.rng.randrange(len(plan.kinds))
    kinds = plan.kinds[start:] + plan.kinds[:start]
    n_bad, bad, kept = round(count * share), 0, 0
    recent: list[Row] = []  # the last valid records, for duplicates (redeliveries come soon)
    valid = plan.valid
    for i in range(count):
        c.slot = i
        if n_bad and (i + 1) * n_bad // count > bad:
            yield invalid_record(plan, c, kinds[bad % len(kinds)], recent)
            bad += 1
            continue
        row = valid(c)
        if kept < 16:
            recent.append(row)
        else:
            recent[kept & 15] = row
        kept += 1
        yield Labelled("valid", None, row)


def records(
    contract: Contract,
    count: int,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
) -> Iterator[Record]:
    """`count` records for `contract`: JSON-ready dicts, or a str for a malformed record.

    The same seed and `now` give the same records; `now` defaults to the current UTC time and
    valid event times fall in the 30 days before it.
    """
    items = labelled_records(contract, count, invalid_share=invalid_share, seed=seed, now=now)
    return (item.record for item in items)
