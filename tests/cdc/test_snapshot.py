"""Canonical form, accounting of odd input, the diff's operations, the sharded snapshot store."""

from __future__ import annotations

from trackline.cdc.snapshot import canonical, content_hash, diff, observe
from trackline.cdc.store import SHARD_TARGET, SnapshotStore
from trackline.state import StateStore

CART = {"id": 1, "userId": 3, "date": "2020-03-02T00:00:00.000Z", "__v": 0,
        "products": [{"productId": 5, "quantity": 2}, {"productId": 1, "quantity": 4}]}  # fmt: skip


def _hash(cart: dict[str, object]) -> str:
    return content_hash(canonical(cart))


def test_product_order_and_version_counter_are_not_changes() -> None:
    reordered = {**CART, "products": list(reversed(CART["products"])), "__v": 7}  # type: ignore[call-overload]
    assert _hash(reordered) == _hash(CART)
    assert canonical(CART)["products"][0] == {"productId": 1, "quantity": 4}
    assert "__v" not in canonical(CART)


def test_quantity_product_date_and_user_changes_are_changes() -> None:
    base = _hash(CART)
    qty = {**CART, "products": [{"productId": 5, "quantity": 3}, {"productId": 1, "quantity": 4}]}
    pid = {**CART, "products": [{"productId": 6, "quantity": 2}, {"productId": 1, "quantity": 4}]}
    assert len({base, _hash(qty), _hash(pid), _hash({**CART, "date": "2020-03-03"}),
                _hash({**CART, "userId": 4})}) == 5  # fmt: skip


def test_odd_product_lines_still_hash_and_sort() -> None:
    odd = {**CART, "products": [{"productId": "x"}, 7, {"productId": 2, "quantity": 1}]}
    assert canonical(odd)["products"][0] == {"productId": 2, "quantity": 1}
    assert _hash(odd) != _hash(CART)


def test_every_input_is_accounted_for() -> None:
    raw = [CART, {**CART, "userId": 9}, "nope", {"userId": 1}, {"id": None}, {"id": 1.5},
           {"id": "abc", "date": "x"}, {"id": 2}]  # fmt: skip
    seen = observe(raw)
    assert seen.accounted()
    assert sorted(seen.carts) == ["1", "2", "abc"]
    assert seen.duplicates == 1
    assert seen.carts["1"][1]["userId"] == 3  # the first of two carts with one id wins
    reasons = [r["reason"] for r in seen.rejected]
    assert reasons == ["not_an_object", "missing_id", "missing_id", "bad_id"]
    assert [r["index"] for r in seen.rejected] == [2, 3, 4, 5]


def test_diff_ops_in_id_order() -> None:
    before = observe([CART, {"id": 2, "date": "a"}, {"id": 10, "date": "b"}]).carts
    after = observe([{"id": 10, "date": "b2"}, {"id": 3, "date": "c"}, CART]).carts
    got = [(c.op, c.key) for c in diff(before, after)]
    assert got == [("d", "2"), ("c", "3"), ("u", "10")]
    assert diff(after, after) == []
    assert [(c.op, c.key) for c in diff(None, after)] == [("r", "1"), ("r", "3"), ("r", "10")]
    assert diff(None, {}) == []


def test_snapshot_store_round_trip_across_shard_layouts(state: StateStore) -> None:
    store = SnapshotStore(state, "t.carts")
    assert store.load() is None
    small = observe([{"id": i, "date": "d"} for i in range(5)]).carts
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    store.save({}, None, polled_at=now, sequence=0)
    assert store.load() == {}  # an empty snapshot is not a cold start
    store.save(small, None, polled_at=now, sequence=5)
    assert store.load() == small
    big = observe([{"id": i, "date": "d"} for i in range(SHARD_TARGET * 2 + 5)]).carts
    store.save(big, list(big), polled_at=now, sequence=9)
    head = store.head()
    assert head is not None and head["shards"] == 4 and head["generation"] == 1
    assert store.load() == big
    assert not any(k.startswith("t.carts.g0.") for k in state.list_docs("cdc"))  # old layout gone
    changed = dict(big)
    changed["7"] = (content_hash({"id": 7}), {"id": 7})
    del changed["8"]
    store.save(changed, ["7", "8"], polled_at=now, sequence=11)
    assert store.load() == changed
    assert store.head()["generation"] == 1  # type: ignore[index]


def test_sequence_reservation_never_reuses(state: StateStore) -> None:
    store = SnapshotStore(state, "t.carts")
    assert store.reserve(3) == 1
    assert store.reserve(0) == 4
    assert store.reserve(2) == 4
    assert SnapshotStore(state, "t.carts").last_sequence() == 5
