"""Fake Store API look-alike: 20 products, 10 users, 7 carts; `?startdate&enddate` on carts;
an unknown id answers 200 with an empty body. Unlike the real API, cart writes (POST, PUT,
DELETE) are kept, in memory or in a JSON file, so a CDC poller can observe changes."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackline.generate import generator

PREFIX = "/fakestore"


def _products(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    cats = list(generator.PRODUCT_WORDS)
    for i in range(1, 21):
        cat = cats[(i - 1) * len(cats) // 20]
        adjs, nouns, lo, hi = generator.PRODUCT_WORDS[cat]
        out.append(
            {"id": i, "title": f"{rng.choice(adjs)} {rng.choice(nouns)}",
             "price": round(rng.uniform(lo, hi), 2),
             "description": f"A {cat} item customers keep coming back to.",
             "category": cat, "image": f"https://fakestoreapi.com/img/{i}.jpg",
             "rating": {"rate": round(rng.uniform(1.5, 5.0), 1), "count": rng.randint(5, 700)}}
        )  # fmt: skip
    return out


def _users(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(1, 11):
        first, last = rng.choice(generator.FIRST).lower(), rng.choice(generator.LAST).lower()
        city = generator.CITIES.pick(rng.random)
        out.append(
            {"id": i, "email": f"{first}.{last}@example.com", "username": f"{first}{i}",
             "password": f"pw-{rng.randrange(10**8):08d}",
             "name": {"firstname": first, "lastname": last},
             "address": {"city": city, "street": f"{rng.choice(generator.NOUN)} street",
                         "number": rng.randint(1, 9999), "zipcode": f"{rng.randint(10000, 99999)}",
                         "geolocation": {"lat": "-37.3159", "long": "81.1496"}},
             "phone": f"1-{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randrange(10**4)}"}
        )  # fmt: skip
    return out


def _carts(rng: random.Random) -> list[dict[str, Any]]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    out = []
    for i in range(1, 8):
        day = start + timedelta(days=rng.randint(0, 90))
        items = {rng.randint(1, 20): rng.randint(1, 6) for _ in range(rng.randint(1, 4))}
        out.append(
            {"id": i, "userId": rng.randint(1, 10), "date": _iso(day),
             "products": [{"productId": p, "quantity": q} for p, q in items.items()], "__v": 0}
        )  # fmt: skip
    return out


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeStoreData:
    seed: int = 7
    path: Path | None = None  # persist carts here when set
    products: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    carts: dict[int, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        rng = random.Random(f"{self.seed}:fakestore")
        self.products, self.users = _products(rng), _users(rng)
        if self.path is not None and self.path.exists():
            self.carts = {int(k): v for k, v in json.loads(self.path.read_text()).items()}
        else:
            self.carts = {c["id"]: c for c in _carts(rng)}

    def _save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.carts))
            tmp.replace(self.path)

    def write_cart(self, cart_id: int | None, body: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if cart_id is not None and cart_id not in self.carts:
                return None
            cid = cart_id if cart_id is not None else max(self.carts, default=0) + 1
            cart = {
                "id": cid,
                "userId": int(body.get("userId", self.carts.get(cid, {}).get("userId", 1))),
                "date": str(body.get("date") or _iso(datetime.now(UTC))),
                "products": list(body.get("products", [])),
                "__v": 0,
            }
            self.carts[cid] = cart
            self._save()
            return cart

    def delete_cart(self, cart_id: int) -> dict[str, Any] | None:
        with self._lock:
            cart = self.carts.pop(cart_id, None)
            self._save()
            return cart


class FakeStoreAPI:
    def __init__(self, data: FakeStoreData) -> None:
        self.data = data

    def routes(self) -> list[Route]:
        p = PREFIX
        return [
            Route(f"{p}/products", self.products),
            Route(f"{p}/products/{{id}}", self.product),
            Route(f"{p}/users", self.users),
            Route(f"{p}/users/{{id}}", self.user),
            Route(f"{p}/carts", self.carts, methods=["GET", "POST"]),
            Route(f"{p}/carts/{{id}}", self.cart, methods=["GET", "PUT", "PATCH", "DELETE"]),
        ]

    async def products(self, request: Request) -> Response:
        return _listing(request, self.data.products)

    async def product(self, request: Request) -> Response:
        return _one(request, self.data.products)

    async def users(self, request: Request) -> Response:
        return _listing(request, self.data.users)

    async def user(self, request: Request) -> Response:
        return _one(request, self.data.users)

    async def carts(self, request: Request) -> Response:
        if request.method == "POST":
            cart = self.data.write_cart(None, await _body(request))
            return JSONResponse(cart)
        carts = sorted(self.data.carts.values(), key=lambda c: c["id"])
        q = request.query_params
        if "startdate" in q or "enddate" in q:
            lo, hi = q.get("startdate", "0000"), q.get("enddate", "9999")
            carts = [c for c in carts if lo <= c["date"][:10] <= hi]
        return _listing(request, carts)

    async def cart(self, request: Request) -> Response:
        raw = request.path_params["id"]
        cid = int(raw) if raw.isdigit() else -1
        if request.method in ("PUT", "PATCH"):
            cart = self.data.write_cart(cid, await _body(request))
        elif request.method == "DELETE":
            cart = self.data.delete_cart(cid)
        else:
            cart = self.data.carts.get(cid)
        return JSONResponse(cart) if cart is not None else Response(b"", status_code=200)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _listing(request: Request, rows: list[dict[str, Any]]) -> Response:
    q = request.query_params
    if q.get("sort") == "desc":
        rows = list(reversed(rows))
    if q.get("limit", "").isdigit():
        rows = rows[: int(q["limit"])]
    return JSONResponse(rows)


def _one(request: Request, rows: list[dict[str, Any]]) -> Response:
    raw = request.path_params["id"]
    found = [r for r in rows if str(r["id"]) == raw]
    return JSONResponse(found[0]) if found else Response(b"", status_code=200)
