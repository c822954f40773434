"""Paginators for the four styles the APIs use: next URL, cursor, offset and page token.

Each yields parsed pages and stops at the last one, or at `max_pages` as a guard against an
API that keeps pointing at itself. A `next` URL is followed only on the first page's origin
(scheme, host and port): the fetch sends the user's access token with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from trackline.core.http.redact import redact_url
from trackline.errors import ConnectorError

Fetch = Callable[[str, Mapping[str, Any] | None], Any]
MAX_PAGES = 10_000


def next_url_pages(
    fetch: Fetch, url: str, params: Mapping[str, Any] | None = None, *, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Follow `next` (a full URL, Spotify style) until it is null. `url` must be absolute: a
    `next` on another origin is refused (ConnectorError), never fetched."""
    home = origin(url)
    current: str | None = url
    current_params = params
    for _ in range(max_pages):
        if not current:
            return
        page = _page(fetch(current, current_params), current)
        yield page
        nxt = page.get("next")
        current, current_params = (urljoin(current, str(nxt)) if nxt else None), None
        if current and origin(current) != home:
            raise ConnectorError(
                f"refused to follow a next page on another host ({redact_url(current)}): "
                f"pages come only from the API's own {home}, where its access token goes"
            )
    raise ConnectorError(f"stopped after {max_pages} pages: the API keeps returning a next page")


def cursor_pages(
    fetch: Fetch,
    url: str,
    params: Mapping[str, Any],
    *,
    cursor_param: str,
    next_cursor: Callable[[dict[str, Any]], str | None],
    max_pages: int = MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Pass the cursor the last page gave as `cursor_param` until there is none (or it stalls)."""
    query = dict(params)
    seen: set[str] = set()
    for _ in range(max_pages):
        page = _page(fetch(url, query), url)
        yield page
        cursor = next_cursor(page)
        if not cursor or cursor in seen:
            return
        seen.add(cursor)
        query[cursor_param] = cursor
    raise ConnectorError(f"stopped after {max_pages} pages: the cursor never ended")


def offset_pages(
    fetch: Fetch,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    limit: int,
    items_key: str = "items",
    max_items: int | None = None,
    max_pages: int = MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """`offset`/`limit` pages until `total` is reached or a page comes back short."""
    offset = 0
    for _ in range(max_pages):
        page = _page(fetch(url, {**(params or {}), "limit": limit, "offset": offset}), url)
        yield page
        items = page.get(items_key) or []
        offset += len(items)
        total = page.get("total")
        if len(items) < limit or (isinstance(total, int) and offset >= total):
            return
        if max_items is not None and offset >= max_items:
            return
    raise ConnectorError(f"stopped after {max_pages} pages at offset {offset}")


def page_token_pages(
    fetch: Fetch, url: str, params: Mapping[str, Any], *, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Google style: `nextPageToken` in the page goes back as `pageToken`."""
    return cursor_pages(
        fetch,
        url,
        params,
        cursor_param="pageToken",
        next_cursor=lambda p: p.get("nextPageToken"),
        max_pages=max_pages,
    )


def origin(url: str) -> str:
    """`scheme://host:port` of a URL, default ports spelled out, for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port out of range is no origin of ours
        port = -1
    port = port or {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def _page(body: Any, url: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ConnectorError(f"{url}: expected a JSON object page, got {type(body).__name__}")
    return body
