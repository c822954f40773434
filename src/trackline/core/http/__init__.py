"""HTTP plumbing shared by the REST connectors: client, paginators, redaction."""

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
from trackline.core.http.redact import redact, redact_url, register_secret

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
