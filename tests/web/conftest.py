"""Run the worker app on a real uvicorn server on 127.0.0.1 (a free port) for HTTP tests."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.worker.conftest import connect, fake, settings, store  # noqa: F401 (fixtures)

TOKEN = "test-token-0123456789"


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the worker server did not start"
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def envelope(session_id: str, message_id: str = "1") -> dict[str, Any]:
    """A push body exactly as Pub/Sub sends it."""
    data = base64.b64encode(json.dumps({"session_id": session_id}).encode()).decode()
    return {
        "message": {
            "data": data,
            "attributes": {"session_id": session_id},
            "messageId": message_id,
            "publishTime": "2024-05-01T12:00:00.000Z",
        },
        "subscription": "projects/p/subscriptions/trackline-sessions",
    }


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


__all__ = ["TOKEN", "auth", "connect", "envelope", "serve_app"]
