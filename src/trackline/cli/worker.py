"""`trackline serve worker`, `trackline worker`, `trackline trigger`: running sessions."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli._state import store_for
from trackline.cli.common import out, print_json, state
from trackline.errors import ConfigError

serve_group = typer.Typer(help="Run a trackline HTTP service in the foreground.")


@serve_group.command("worker")
def serve_worker(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", envvar="PORT", help="Port (Cloud Run sets $PORT).")
    ] = 8080,
) -> None:
    """Accept Pub/Sub push deliveries of sessions on POST /pubsub/push (see docs/worker.md)."""
    settings = state(ctx).settings()
    try:
        from trackline.web.push import create_app
    except ImportError:
        raise ConfigError(
            "the HTTP worker needs FastAPI: install it with `pip install 'trackline[web]'`"
        ) from None
    import uvicorn

    from trackline.state import open_state
    from trackline.web.auth import from_settings

    auth = from_settings(settings)  # no listening without authentication configured (exit 2)
    # The state store opens before listening: an unreachable one is one line and exit 1, not
    # a failed start-up inside the server.
    store = open_state(settings)
    try:
        app = create_app(settings, store=store, authenticator=auth)
        out.print(f"worker listening on http://{host}:{port} (POST /pubsub/push)", markup=False)
        # No `server:` header: an unauthenticated caller learns nothing about what runs here.
        uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    finally:
        store.close()


def worker(
    ctx: typer.Context,
    bus: Annotated[
        str | None, typer.Option("--bus", help="Bus URI (default TRACKLINE_BUS_URI).")
    ] = None,
    max_sessions: Annotated[
        int | None, typer.Option("--max-sessions", help="Stop after running this many.")
    ] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option("--idle-exit", help="Stop after this many seconds without a message."),
    ] = None,
    group: Annotated[
        str, typer.Option("--group", help="Consumer group; workers in one group share sessions.")
    ] = "workers",
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = False,
) -> None:
    """Pull sessions from the bus's `sessions` topic and run them until stopped."""
    from trackline.bus.base import open_bus
    from trackline.sessions.pull import pull_loop
    from trackline.sessions.runner import default_worker_id

    with store_for(ctx) as (settings, store):
        consumer = open_bus(bus, settings)
        wid = default_worker_id()
        if not json_:
            out.print(f"worker {wid} pulling sessions (Ctrl-C to stop)", markup=False)
        try:
            summary = pull_loop(
                settings,
                store,
                consumer,
                wid,
                group=group,
                max_sessions=max_sessions,
                idle_exit=idle_exit,
            )
        finally:
            consumer.close()
    if json_:
        print_json(summary.as_dict())
    else:
        out.print(
            f"ran {summary.ran} sessions; acked {summary.acked}, nacked {summary.nacked} "
            f"in {summary.seconds:.1f}s",
            markup=False,
        )


def trigger(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            help="Re-announce sessions still pending this many seconds after their message "
            "(default TRACKLINE_TRIGGER_AFTER_SECONDS).",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Publish the sessions whose message was lost (never announced, stuck, lease expired)."""
    from trackline.sessions import trigger as trig

    with store_for(ctx) as (settings, store):
        publisher = trig.open_publisher(settings)
        try:
            after = settings.trigger_after_seconds if older_than is None else older_than
            published = trig.trigger(store, publisher, after)
        finally:
            publisher.close()
    if json_:
        print_json({"published": published})
        return
    if not published:
        out.print("nothing to trigger: every pending session was announced recently", markup=False)
        return
    for p in published:
        out.print(f"published {p['session_id']} ({p['status']}: {p['reason']})", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(serve_group, name="serve")
    app.command("worker")(worker)
    app.command("trigger")(trigger)
