"""The fake APIs: persisted cart writes, faults per request, token rules."""

from __future__ import annotations

from pathlib import Path

import httpx

from trackline.fakeapi import FakeAPI, serve
from trackline.fakeapi.fakestore_routes import FakeStoreData


def test_cart_writes_are_persisted_and_survive_a_restart(tmp_path: Path) -> None:
    carts = tmp_path / "carts.json"
    with serve(FakeAPI.create(carts_file=carts)) as fake:
        base = f"{fake.base_url}/fakestore/carts"
        made = httpx.post(
            base,
            json={"userId": 3, "date": "2020-05-01", "products": [{"productId": 2, "quantity": 4}]},
        ).json()
        assert made["id"] == 8
        httpx.put(f"{base}/1", json={"userId": 1, "products": [{"productId": 5, "quantity": 1}]})
        assert httpx.delete(f"{base}/2").json()["id"] == 2
        listed = {c["id"]: c for c in httpx.get(base).json()}
        assert 8 in listed and 2 not in listed
        assert listed[1]["products"] == [{"productId": 5, "quantity": 1}]
        assert httpx.get(f"{base}/2").content == b""  # deleted: empty 200, "not found"
    again = FakeStoreData(path=carts)
    assert 8 in again.carts and 2 not in again.carts


def test_fault_per_request_and_unknown_fault(tmp_path: Path) -> None:
    with serve() as fake:
        url = f"{fake.base_url}/fakestore/products"
        r = httpx.get(url, headers={"X-Fake-Fault": "429:3"})
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert httpx.get(url, params={"_fault": "500"}).status_code == 500
        assert httpx.get(url, params={"_fault": "bogus"}).status_code == 400
        assert (
            httpx.post(
                f"{fake.base_url}/_fake/faults", json={"path": "/fakestore", "faults": ["500"]}
            ).status_code
            == 200
        )
        assert httpx.get(url).status_code == 500
        assert httpx.get(url).status_code == 200


def test_api_requires_a_live_token() -> None:
    with serve(FakeAPI.create(token_ttl=0)) as fake:
        me = f"{fake.base_url}/spotify/v1/me"
        assert httpx.get(me).status_code == 401
        token = fake.spotify_auth.issue_access_token("u")
        r = httpx.get(me, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
