"""The dashboard's web app: routes, authentication, templates and error pages.

Server-rendered HTML (Starlette + Jinja2, autoescaped), SVG charts drawn in Python, no script
at all: the Content-Security-Policy forbids every script, so even a value that slipped past
escaping could not run. A bad parameter is a 400 page, an unknown run, dataset, session or group
a 404 page, a busy or unreadable warehouse a 503 page with its one-line reason; never a
traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.redact import redact
from trackline.web.dashboard import pages_live, pages_reports, pages_runs, params
from trackline.web.dashboard.auth import COOKIE, DashboardAuth
from trackline.web.dashboard.source import Source

log = logging.getLogger(__name__)
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
NAV = (
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/quality", "Quality"),
    ("/bias", "Bias"),
    ("/drift", "Drift"),
    ("/rejected", "Rejected rows"),
    ("/stream", "Stream"),
    ("/sessions", "Sessions"),
    ("/group", "Group"),
)
Handler = Callable[[Source, Request], pages_runs.Page]


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.{digits}g}" if abs(x) < 1e6 else f"{x:,.0f}"
    return str(x)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100.0 * float(x):.1f}%"


def _when(x: Any) -> str:
    if isinstance(x, datetime):
        return x.strftime("%Y-%m-%d %H:%M:%S")
    return "–" if x is None else str(x)


def _query_with(query: Any, page: int) -> str:
    """The current query string with another page number (values url-encoded)."""
    items = [(k, v) for k, v in query.multi_items() if k != "page"]
    return urlencode([*items, ("page", str(page))])


def _query_without_page(query: Any) -> str:
    return urlencode([(k, v) for k, v in query.multi_items() if k != "page"])


def environment() -> Environment:
    env = Environment(loader=PackageLoader("trackline.web.dashboard", "templates"), autoescape=True)
    env.filters.update(num=_num, pct=_pct, when=_when)
    env.globals.update(nav=NAV, query_with=_query_with, query_without_page=_query_without_page)
    return env


def create_app(
    settings: Settings, *, token: str | None = None, kind: str | None = None
) -> Starlette:
    src = Source(settings, kind=kind)
    auth = DashboardAuth(token)
    env = environment()

    def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
        body = env.get_template(name).render(
            path=request.url.path, query=request.query_params, **ctx
        )
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def error(request: Request, status: int, title: str, message: str) -> Response:
        ctx = {"title": title, "message": message, "login": status == 401}
        return render(request, "error.html", ctx, status)

    def guarded(
        fn: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not auth.allows(request):  # before anything is read
                return error(request, 401, "Sign in", "This dashboard needs its token.")
            began = time.perf_counter()
            try:
                response = await fn(request)
            except params.BadRequest as exc:
                return error(request, 400, "Bad request", str(exc))
            except params.NotFound as exc:
                return error(request, 404, "Not found", str(exc))
            except TracklineError as exc:
                return error(request, 503, "Unavailable", redact(str(exc).splitlines()[0]))
            except Exception:
                log.exception("dashboard.error path=%s", request.url.path)
                return error(request, 500, "Error", "Something failed; see the server's log.")
            spent = 1000 * (time.perf_counter() - began)
            response.headers["server-timing"] = f"app;dur={spent:.1f}"
            return response

        return endpoint

    def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def fn(request: Request) -> Response:
            name, ctx = await run_in_threadpool(handler, src, request)
            return render(request, name, ctx)

        return guarded(fn)

    async def csv_download(request: Request) -> Response:
        lines: Iterator[str] = await run_in_threadpool(
            pages_runs.rejected_csv, src, request.query_params
        )
        headers = {**HEADERS, "content-disposition": 'attachment; filename="rejected.csv"'}
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)

    async def login_form(request: Request) -> Response:
        return render(request, "login.html", {"failed": False, "open": not auth.required})

    async def login(request: Request) -> Response:
        cookie = auth.login(await request.body())
        if cookie is None:
            ctx = {"failed": True, "open": not auth.required}
            return render(request, "login.html", ctx, 401)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return response

    async def not_found(request: Request, exc: Exception) -> Response:
        if not auth.allows(request):
            return error(request, 401, "Sign in", "This dashboard needs its token.")
        return error(request, 404, "Not found", "No such page.")

    def q(fn: Callable[[Source, Any], pages_runs.Page]) -> Handler:
        return lambda s, request: fn(s, request.query_params)

    def p(fn: Callable[[Source, str], pages_runs.Page], key: str) -> Handler:
        return lambda s, request: fn(s, str(request.path_params[key]))

    routes = [
        Route("/", page(q(pages_runs.overview))),
        Route("/runs", page(q(pages_runs.runs))),
        Route("/runs/{run_id}", page(p(pages_runs.run_page, "run_id"))),
        Route("/quality", page(q(pages_reports.quality))),
        Route("/bias", page(q(pages_reports.bias))),
        Route("/drift", page(q(pages_reports.drift_page))),
        Route("/rejected", page(q(pages_runs.rejected))),
        Route("/rejected.csv", guarded(csv_download)),
        Route("/stream", page(q(pages_live.stream))),
        Route("/sessions", page(q(pages_live.sessions))),
        Route("/sessions/{session_id}", page(p(pages_live.session, "session_id"))),
        Route("/group", page(q(pages_live.group))),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.source = src
    return app
