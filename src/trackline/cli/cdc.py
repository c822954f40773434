"""`trackline cdc carts`: watch the carts API and publish every change as a CloudEvent."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from trackline.cli.common import out, print_json, state
from trackline.core.http.redact import redact_url
from trackline.errors import UsageError

if TYPE_CHECKING:
    from trackline.cdc import PollResult

#: trackline.cdc.poller.DEFAULT_TOPIC (a test keeps them equal), named here so the help does
#: not import the poller.
DEFAULT_TOPIC = "cdc.carts"

cdc_app = typer.Typer(help="Change data capture: API changes as CloudEvents on the bus.")


def _base_url(url: str) -> str:
    """`--url` is the API base (like TRACKLINE_FAKESTORE_API_URL) or its /carts endpoint."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http(s) URL, got {redact_url(url)!r}")
    return url.removesuffix("/carts")


@cdc_app.command("carts")
def carts(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls.", min=0.0)
    ] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="Fake Store API base URL (default TRACKLINE_FAKESTORE_API_URL)."
        ),
    ] = None,
    bus_uri: Annotated[
        str | None,
        typer.Option("--bus", help="Bus URI (default: TRACKLINE_BUS_URI, else the log)."),
    ] = None,
    topic: Annotated[str, typer.Option("--topic", help="Topic to publish to.")] = DEFAULT_TOPIC,
    name: Annotated[
        str,
        typer.Option("--name", help="Logical source name: one snapshot and event source per name."),
    ] = "fakestore",
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per poll.")] = False,
) -> None:
    """Poll the carts endpoint; emit r on a cold start, then c/u/d for every change."""
    from trackline.bus.base import open_bus, redact
    from trackline.cdc import CartsCDC, DeadLetters, Source, dead_letter_path, stop_on_signals
    from trackline.core.http import HttpClient
    from trackline.sources.fakestore import FakeStore
    from trackline.state import open_state

    source = Source(name=name)  # checked before anything is created under the home
    settings = state(ctx).settings()
    base = _base_url(url or settings.fakestore_api_url)
    settings.ensure_home()
    stop = threading.Event()
    store = open_state(settings)
    bus = open_bus(bus_uri, settings)
    http = HttpClient.from_settings(settings)
    try:
        cdc = CartsCDC(
            state=store,
            publisher=bus,
            fetch=FakeStore(http, base).carts,
            dead_letters=DeadLetters(dead_letter_path(settings.home, source)),
            source=source,
            topic=topic,
        )
        polls = 0

        def report(result: PollResult) -> None:
            nonlocal polls
            polls += 1
            summary = {
                "poll": polls,
                "source": source.uri,
                "url": redact_url(base),
                "bus": redact(bus_uri or settings.bus),
                "topic": topic,
                **result.as_dict(),
            }
            if json_:
                print_json(summary)
            else:
                ops = ", ".join(f"{k} {v}" for k, v in summary["ops"].items() if v)
                out.print(
                    f"poll {polls}: {result.carts} carts, {result.events} events"
                    f"{f' ({ops})' if ops else ''}, published {result.published}, "
                    f"dead-lettered {result.dead_lettered}, replayed {result.replayed}"
                    f"{', cold start' if result.cold_start else ''}",
                    markup=False,
                )

        with stop_on_signals(stop):
            cdc.run(interval=interval, once=once, stop=stop, on_result=report)
    finally:
        http.close()
        bus.close()
        store.close()


def register(app: typer.Typer) -> None:
    app.add_typer(cdc_app, name="cdc")
