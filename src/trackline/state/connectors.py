"""The part of the state store the connectors use (a subset of `trackline.state.StateStore`).

Connectors depend on this small Protocol, not on a backend, so any state store works (the tests
and the benchmark use the real SQLite one). `open_connector_state()` opens the configured store,
and `Locked` serialises calls so users fetched in parallel can share one store safely.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from trackline.config import Settings


class ConnectorState(Protocol):
    def get_refresh_token(self, user_id: str, provider: str) -> str | None: ...
    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None: ...
    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None: ...
    def get_cursor(self, key: str) -> str | None: ...
    def set_cursor(self, key: str, value: str) -> None: ...
    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None: ...
    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None: ...
    def add_user(self, user_id: str) -> Any: ...
    def list_users(self, *, active_only: bool = False) -> list[Any]: ...
    def touch_user(self, user_id: str, when: Any = None) -> None: ...
    def close(self) -> None: ...


class Locked:
    """A ConnectorState whose every call holds one lock (SQLite connections are not shared
    across threads safely)."""

    def __init__(self, inner: ConnectorState) -> None:
        self._inner = inner
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


def open_connector_state(settings: Settings) -> ConnectorState:
    """The configured state store (`TRACKLINE_STATE_URI`), for tokens and cursors."""
    from trackline.state import open_state  # the state package imports connectors' peers

    store: ConnectorState = open_state(settings)
    return store


if TYPE_CHECKING:  # mypy --strict proves every real store is a ConnectorState
    from trackline.state import StateStore
    from trackline.state.firestore import FirestoreStore
    from trackline.state.postgres import PostgresStore
    from trackline.state.sqlite import SQLiteStore

    def _conforms(
        a: StateStore, b: SQLiteStore, c: PostgresStore, d: FirestoreStore
    ) -> list[ConnectorState]:
        return [a, b, c, d]
