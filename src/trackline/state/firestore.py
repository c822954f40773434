"""Firestore state store (`firestore://PROJECT[/DATABASE][?prefix=NAME_]`), on the official
client: users, encrypted tokens, cursors and documents here; sessions in `firestore_sessions`,
the connection in `firestore_base`, the document shapes in `firestore_map`.

Needs the `gcp` extra. Firestore is schemaless: "migrations" are a version number in
`<prefix>meta/schema`, checked on open. Tested against the Firestore emulator of the Google
Cloud CLI (`tests/state/`, the contract suite every backend runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.errors import UsageError
from trackline.state.base import (
    User,
    check_collection,
    check_key,
    check_provider,
    check_user_id,
)
from trackline.state.crypto import LazyCipher, seal, unseal
from trackline.state.errors import UnknownUserError
from trackline.state.firestore_base import CALL_TIMEOUT
from trackline.state.firestore_map import (
    FirestoreTarget,
    doc_id,
    key_from_doc_id,
    parse_uri,
    user_from_doc,
    user_to_doc,
)
from trackline.state.firestore_sessions import FirestoreSessions
from trackline.state.sql import Cipher

log = logging.getLogger(__name__)


class FirestoreStore(FirestoreSessions):
    def __init__(self, target: FirestoreTarget, cipher: Cipher, retry_seconds: float) -> None:
        self.cipher = cipher
        super().__init__(target, retry_seconds)

    # users and tokens ----------------------------------------------------------------------
    def add_user(self, user_id: str) -> User:
        check_user_id(user_id)
        ref = self._user_ref(user_id)

        def create(tx: Any) -> None:
            if not self._get(ref, transaction=tx).exists:
                tx.set(ref, user_to_doc(User(user_id, True, None, self._now())))

        self._in_tx(create)
        user = self.get_user(user_id)
        assert user is not None
        return user

    def get_user(self, user_id: str) -> User | None:
        snap = self._get(self._user_ref(user_id))
        return user_from_doc(snap.to_dict()) if snap.exists else None

    def list_users(self, *, active_only: bool = False) -> list[User]:
        users = [user_from_doc(s.to_dict()) for s in self._stream(self._col("users"))]
        users.sort(key=lambda u: u.user_id)
        return [u for u in users if u.is_active or not active_only]

    def remove_user(self, user_id: str) -> bool:
        ref = self._user_ref(user_id)

        def remove(tx: Any) -> bool:
            if not self._get(ref, transaction=tx).exists:
                return False
            tx.delete(ref)
            return True

        return bool(self._in_tx(remove))

    def _update_user(self, user_id: str, fields: dict[str, Any]) -> None:
        ref = self._user_ref(user_id)

        def update(tx: Any) -> None:
            if not self._get(ref, transaction=tx).exists:
                raise UnknownUserError(
                    f"no user {user_id!r}: add it with `trackline users add {user_id}`"
                )
            tx.update(ref, fields)

        self._in_tx(update)

    def set_active(self, user_id: str, active: bool) -> None:
        self._update_user(user_id, {"is_active": bool(active)})

    def touch_user(self, user_id: str, when: datetime | None = None) -> None:
        at = when or self._now()
        self._update_user(user_id, {"last_active": at if at.tzinfo else at.replace(tzinfo=UTC)})

    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None:
        check_provider(provider)
        if not token:
            raise UsageError(f"an empty {provider} refresh token cannot be stored")
        entry = {
            "ciphertext": self.cipher.encrypt(seal(user_id, provider, token)),
            "status": "connected",
            "reason": None,
            "updated_at": self._now(),
        }
        self._update_user(user_id, {f"tokens.{provider}": entry})
        log.info("token.stored user_id=%s provider=%s", user_id, provider)

    def get_refresh_token(self, user_id: str, provider: str) -> str | None:
        snap = self._get(self._user_ref(user_id))
        if not snap.exists:
            return None
        entry = ((snap.to_dict() or {}).get("tokens") or {}).get(provider) or {}
        ciphertext = entry.get("ciphertext")
        if not ciphertext:
            return None
        plain = self.cipher.decrypt(
            ciphertext, what=f"the {provider} refresh token of user {user_id!r}"
        )
        return unseal(plain, user_id, provider)[0]

    def rewrap_tokens(self, rewrap: Callable[[str, str, str], str]) -> int:
        """Replace every stored ciphertext with `rewrap(user_id, provider, ciphertext)` in one
        transaction (`trackline keys rotate`): all tokens move to the new key, or none do."""
        users = self._col("users")

        def rotate(tx: Any) -> int:
            moved = 0
            writes = []
            for snap in users.stream(transaction=tx, timeout=CALL_TIMEOUT, retry=None):
                data = snap.to_dict() or {}
                fields = {}
                for provider, entry in sorted((data.get("tokens") or {}).items()):
                    if entry.get("ciphertext"):
                        new = rewrap(str(data["user_id"]), provider, entry["ciphertext"])
                        fields[f"tokens.{provider}.ciphertext"] = new
                if fields:
                    writes.append((snap.reference, fields))
                    moved += len(fields)
            for ref, fields in writes:  # only once every token rewrapped
                tx.update(ref, fields)
            return moved

        return int(self._in_tx(rotate))

    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None:
        check_provider(provider)
        self._update_user(
            user_id,
            {
                f"tokens.{provider}.status": "needs_reauth",
                f"tokens.{provider}.reason": reason,
                f"tokens.{provider}.updated_at": self._now(),
            },
        )
        log.warning("token.needs_reauth user_id=%s provider=%s", user_id, provider)

    # cursors and documents -----------------------------------------------------------------
    def get_cursor(self, key: str) -> str | None:
        snap = self._get(self._col("cursors").document(doc_id(key)))
        return str(snap.to_dict()["value"]) if snap.exists else None

    def set_cursor(self, key: str, value: str) -> None:
        check_key(key, "cursor key")
        ref = self._col("cursors").document(doc_id(key))
        doc = {"key": key, "value": str(value), "updated_at": self._now()}
        self._call(lambda: ref.set(doc, timeout=CALL_TIMEOUT, retry=None))

    def _items(self, collection: str) -> Any:
        check_collection(collection)
        return self._col("docs").document(collection).collection("items")

    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None:
        snap = self._get(self._items(collection).document(doc_id(key)))
        return dict(snap.to_dict()) if snap.exists else None

    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None:
        check_key(key, "document key")
        if not isinstance(value, dict):
            raise UsageError(f"a document must be a JSON object, got {type(value).__name__}")
        ref = self._items(collection).document(doc_id(key))
        self._call(lambda: ref.set(value, timeout=CALL_TIMEOUT, retry=None))

    def delete_doc(self, collection: str, key: str) -> bool:
        ref = self._items(collection).document(doc_id(key))

        def delete(tx: Any) -> bool:
            if not self._get(ref, transaction=tx).exists:
                return False
            tx.delete(ref)
            return True

        return bool(self._in_tx(delete))

    def list_docs(self, collection: str) -> dict[str, dict[str, Any]]:
        snaps = self._stream(self._items(collection))
        docs = {key_from_doc_id(s.id): dict(s.to_dict()) for s in snaps}
        return dict(sorted(docs.items()))


def open_store(uri: str, settings: Settings) -> FirestoreStore:
    return FirestoreStore(parse_uri(uri), LazyCipher(settings), settings.state_retry_seconds)
