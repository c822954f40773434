"""CDC test fixtures: a real fake API, a real SQLite state store, and a real publisher that
writes NDJSON files (the bus stand-in the core is tested with), with one fault switch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackline.cdc import CartsCDC, DeadLetters, Source, dead_letter_path
from trackline.config import Settings
from trackline.core.http import HttpClient
from trackline.fakeapi import FakeAPI, serve
from trackline.sources.fakestore import FakeStore
from trackline.state import StateStore, open_state


class PublishRefused(Exception):
    pass


@dataclass
class NdjsonPublisher:
    """Appends each message to `<dir>/<topic>.ndjson`; `refuse` names keys (or "*") to fail."""

    root: Path
    refuse: set[str] = field(default_factory=set)
    calls: int = 0

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> str:
        self.calls += 1
        if "*" in self.refuse or ordering_key in self.refuse:
            raise PublishRefused(f"bus refused {ordering_key}")
        self.root.mkdir(parents=True, exist_ok=True)
        line = {"data": data.decode(), "attributes": attributes, "key": ordering_key}
        with (self.root / f"{topic}.ndjson").open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        return str(self.calls)

    def messages(self, topic: str = "cdc.carts") -> list[dict[str, Any]]:
        path = self.root / f"{topic}.ndjson"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def events(self, topic: str = "cdc.carts") -> list[dict[str, Any]]:
        return [json.loads(m["data"]) for m in self.messages(topic)]


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create(seed=11)) as f:
        yield f


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


@pytest.fixture
def state(settings: Settings) -> Iterator[StateStore]:
    store = open_state(settings)
    yield store
    store.close()


@pytest.fixture
def publisher(tmp_path: Path) -> NdjsonPublisher:
    return NdjsonPublisher(tmp_path / "bus")


@pytest.fixture
def http() -> Iterator[HttpClient]:
    with HttpClient(max_concurrency=2) as client:
        yield client


def make_cdc(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings, publisher: Any
) -> CartsCDC:
    api = FakeStore(http, f"{fake.base_url}/fakestore")
    return CartsCDC(
        state=state,
        publisher=publisher,
        fetch=api.carts,
        dead_letters=DeadLetters(dead_letter_path(settings.home, Source())),
    )


class Carts:
    """Writes through the fake Fake Store's real endpoints."""

    def __init__(self, fake: FakeAPI) -> None:
        self.base = f"{fake.base_url}/fakestore/carts"

    def create(self, user_id: int, products: list[dict[str, int]], date: str) -> int:
        body = {"userId": user_id, "date": date, "products": products}
        cart = httpx.post(self.base, json=body).raise_for_status().json()
        return int(cart["id"])

    def update(self, cart_id: int, **body: Any) -> dict[str, Any]:
        return dict(httpx.put(f"{self.base}/{cart_id}", json=body).raise_for_status().json())

    def delete(self, cart_id: int) -> None:
        httpx.delete(f"{self.base}/{cart_id}").raise_for_status()

    def get(self, cart_id: int) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base}/{cart_id}").raise_for_status().json())
