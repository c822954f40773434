"""Reach the local servers that adapter tests run against.

A test that needs a server calls ``require(name)``: it gets the URL, or the test is skipped with
the reason when the server is not listening. Under ``CI=true`` a missing server is a failure,
never a skip, so CI cannot go green by skipping every adapter test.
"""

from __future__ import annotations

import os
import socket

import pytest

SERVICES: dict[str, tuple[str, int, str]] = {
    "postgres": ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/test"),
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "nats": ("127.0.0.1", 4222, "nats://127.0.0.1:4222"),
    "rabbitmq": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672/"),
    "mariadb": ("127.0.0.1", 3306, "mysql://root@127.0.0.1:3306/test"),
    "mosquitto": ("127.0.0.1", 1883, "mqtt://127.0.0.1:1883"),
    # started by scripts/services.sh (the test command runs it); the URL is the emulator's host
    "pubsub": ("127.0.0.1", 8085, "127.0.0.1:8085"),
    "firestore": ("127.0.0.1", 8086, "127.0.0.1:8086"),
    "bigtable": ("127.0.0.1", 8087, "127.0.0.1:8087"),
    "bigquery": ("127.0.0.1", 9050, "http://127.0.0.1:9050"),
    "bigquery_storage": ("127.0.0.1", 9060, "127.0.0.1:9060"),  # the same emulator's gRPC
    "gcs": ("127.0.0.1", 9023, "http://127.0.0.1:9023"),
    "kafka": ("127.0.0.1", 9092, "127.0.0.1:9092"),
}


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str) -> str:
    """The service's URL (env ``TRACKLINE_TEST_<NAME>_URL`` overrides), or skip/fail."""
    host, port, url = SERVICES[name]
    url = os.environ.get(f"TRACKLINE_TEST_{name.upper()}_URL", url)
    if not reachable(host, port):
        reason = f"{name} is not listening on {host}:{port}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason}; CI needs it (start the service)")
        pytest.skip(reason)
    return url
