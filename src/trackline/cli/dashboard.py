"""`trackline serve dashboard`: the dashboard in the browser (docs/dashboard.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, state
from trackline.cli.worker import serve_group


def serve_dashboard(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to listen on; anything but 127.0.0.1 needs TRACKLINE_DASHBOARD_TOKEN.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port.")] = 8050,
) -> None:
    """Runs, quality, bias, drift, rejected rows, streams, sessions and group listening, as
    server-rendered pages (read-only; no page runs SQL from a request)."""
    settings = state(ctx).settings()
    import uvicorn

    from trackline.redact import register_secret
    from trackline.web.dashboard.app import create_app
    from trackline.web.dashboard.auth import check_bind

    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    register_secret(token)
    check_bind(host, token)  # before anything listens: exit 2 without a token off loopback
    app = create_app(settings, token=token)
    shown = f"[{host}]" if ":" in host else host
    auth = "token required" if token else "no token: loopback only"
    out.print(f"dashboard on http://{shown}:{port}/ ({auth})", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


def register(app: typer.Typer) -> None:
    """A subcommand of `trackline serve` (the group `cli.worker` adds to the app)."""
    serve_group.command("dashboard")(serve_dashboard)
