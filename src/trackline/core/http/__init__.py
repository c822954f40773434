"""HTTP plumbing shared by the REST connectors: client, paginators, redaction.

The client and paginators load on first use, so the CLI's log filter (`redact`) does not
import httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackline.core.http.client import (
        HttpClient,
        HttpStats,
        MalformedResponseError,
        RetryPolicy,
        UnauthorizedError,
    )
    from trackline.core.http.paginate import (
        cursor_pages,
        next_url_pages,
        offset_pages,
        page_token_pages,
    )

# Eager, and light (no httpx), and through the submodule: importing `core.http.redact` binds the
# package's `redact` to that module, so it must load before the function is bound over it.
from trackline.core.http.redact import redact, redact_url, register_secret

_HOMES = {
    "HttpClient": "client",
    "HttpStats": "client",
    "MalformedResponseError": "client",
    "RetryPolicy": "client",
    "UnauthorizedError": "client",
    "cursor_pages": "paginate",
    "next_url_pages": "paginate",
    "offset_pages": "paginate",
    "page_token_pages": "paginate",
}

__all__ = [
    "HttpClient",
    "HttpStats",
    "MalformedResponseError",
    "RetryPolicy",
    "UnauthorizedError",
    "cursor_pages",
    "next_url_pages",
    "offset_pages",
    "page_token_pages",
    "redact",
    "redact_url",
    "register_secret",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
