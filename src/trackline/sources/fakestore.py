"""Fake Store API connector: products, users and carts (one row per cart line).

The API has no accounts to connect, so a fetch runs as one account-less unit. An unknown id
answers 200 with an empty body: `FakeStore.product(id)` and friends return None ("not found").
User passwords are never read into a record.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from trackline.core.http import HttpClient
from trackline.core.http.shapes import obj
from trackline.errors import ConnectorError

DATASETS = ("products", "users", "carts")
NEEDS_USER = False


class FakeStore:
    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/")

    def _list(self, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{self.base}/{path}", params)
        if not isinstance(body, list):
            raise ConnectorError(f"Fake Store /{path}: expected a JSON list")
        return [x for x in body if isinstance(x, dict)]

    def _one(self, path: str) -> dict[str, Any] | None:
        body = self.http.get_json(f"{self.base}/{path}", allow_empty=True)
        return body if isinstance(body, dict) and body else None

    def products(self) -> list[dict[str, Any]]:
        return self._list("products")

    def users(self) -> list[dict[str, Any]]:
        return self._list("users")

    def carts(self, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
        params = {}
        if start is not None:
            params["startdate"] = start.isoformat()
        if end is not None:
            params["enddate"] = end.isoformat()
        return self._list("carts", params or None)

    def product(self, product_id: int) -> dict[str, Any] | None:
        return self._one(f"products/{product_id}")

    def user(self, user_id: int) -> dict[str, Any] | None:
        return self._one(f"users/{user_id}")

    def cart(self, cart_id: int) -> dict[str, Any] | None:
        return self._one(f"carts/{cart_id}")


def product_record(p: dict[str, Any], fetched_at: str) -> dict[str, Any]:
    rating = obj(p.get("rating"))
    return {
        "id": p.get("id"),
        "title": p.get("title"),
        "price": p.get("price"),
        "description": p.get("description"),
        "category": p.get("category"),
        "image": p.get("image"),
        "rating_rate": rating.get("rate"),
        "rating_count": rating.get("count"),
        "fetched_at": fetched_at,
    }


def user_record(u: dict[str, Any], fetched_at: str) -> dict[str, Any]:
    name = obj(u.get("name"))
    addr = obj(u.get("address"))
    return {  # no password: it is never stored
        "id": u.get("id"),
        "email": u.get("email"),
        "username": u.get("username"),
        "firstname": name.get("firstname"),
        "lastname": name.get("lastname"),
        "city": addr.get("city"),
        "zipcode": addr.get("zipcode"),
        "phone": u.get("phone"),
        "fetched_at": fetched_at,
    }


def cart_records(c: dict[str, Any]) -> list[dict[str, Any]]:
    lines = c.get("products") if isinstance(c.get("products"), list) else []
    base = {"cart_id": c.get("id"), "user_id": c.get("userId"), "date": c.get("date")}
    if not lines:  # an empty cart is still a record: the contract says what is wrong with it
        return [{**base, "product_id": None, "quantity": None}]
    return [
        {**base, "product_id": line.get("productId"), "quantity": line.get("quantity")}
        if isinstance(line, dict)
        else {**base, "product_id": None, "quantity": None}
        for line in lines
    ]


def fetch(ctx: Any) -> None:
    api = FakeStore(ctx.http, ctx.settings.fakestore_api_url)
    fetched_at = ctx.now.isoformat()
    with ctx.endpoint("products", "products"):
        ctx.emit("products", [product_record(p, fetched_at) for p in api.products()])
    with ctx.endpoint("users", "users"):
        ctx.emit("users", [user_record(u, fetched_at) for u in api.users()])
    with ctx.endpoint("carts", "carts"):
        ctx.emit("carts", [r for c in api.carts() for r in cart_records(c)])
