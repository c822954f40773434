"""The Firestore emulator's documents read and changed directly, bypassing the store.

What someone with access to the database would see or do; the state-store tests use it through
`conftest.Backend` on the Firestore backend. Needs `FIRESTORE_EMULATOR_HOST` (set by the
fixture). Every call has a short deadline: the emulator is local.
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

from trackline.state.firestore_map import doc_id, parse_uri

TIMEOUT = 10.0


def _client(uri: str) -> tuple[Any, str]:
    from google.cloud import firestore

    target = parse_uri(uri)
    client = firestore.Client(project=target.project, database=target.database)
    return client, target.prefix


def tokens(uri: str) -> list[tuple[str, str, str | None]]:
    client, prefix = _client(uri)
    try:
        out = []
        for snap in client.collection(f"{prefix}users").stream(timeout=TIMEOUT):
            data = snap.to_dict() or {}
            for provider, entry in (data.get("tokens") or {}).items():
                out.append((str(data["user_id"]), str(provider), entry.get("ciphertext")))
        return sorted(out)
    finally:
        client.close()


def set_ciphertext(uri: str, user_id: str, provider: str, ciphertext: str) -> None:
    client, prefix = _client(uri)
    try:
        ref = client.collection(f"{prefix}users").document(doc_id(user_id))
        ref.update({f"tokens.{provider}.ciphertext": ciphertext}, timeout=TIMEOUT)
    finally:
        client.close()


def count(uri: str, collection: str) -> int:
    client, prefix = _client(uri)
    try:
        return sum(1 for _ in client.collection(prefix + collection).stream(timeout=TIMEOUT))
    finally:
        client.close()


def schema_versions(uri: str) -> list[int]:
    client, prefix = _client(uri)
    try:
        snap = client.collection(f"{prefix}meta").document("schema").get(timeout=TIMEOUT)
        return [int((snap.to_dict() or {})["version"])] if snap.exists else []
    finally:
        client.close()


def record_schema_version(uri: str, version: int) -> None:
    client, prefix = _client(uri)
    try:
        ref = client.collection(f"{prefix}meta").document("schema")
        ref.update({"version": version}, timeout=TIMEOUT)
    finally:
        client.close()


def clear(uri: str) -> None:
    """Delete every document of the test's project (the emulator's reset endpoint)."""
    target = parse_uri(uri)
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    url = (
        f"http://{host}/emulator/v1/projects/{target.project}/databases/{target.database}/documents"
    )
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=TIMEOUT).close()
