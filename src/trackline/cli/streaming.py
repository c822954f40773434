"""`trackline publish`, `trackline stream` and `trackline tail`: the event bus from the shell."""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from trackline.cli.common import err, jsonable, out, print_json, state
from trackline.cli.ingest import (
    EngineOpt,
    ProjectOpt,
    RegionOpt,
    RunnerOpt,
    TempOpt,
    WorkersOpt,
    runner_options,
)
from trackline.errors import UsageError
from trackline.stream.events import DEFAULT_TYPES, EVENT_TYPES, parse_types

if TYPE_CHECKING:
    from trackline.bus.base import Start

BusOpt = Annotated[
    str | None,
    typer.Option(
        "--bus",
        help="Bus URI: log://PATH, redis://HOST:PORT, nats://HOST:PORT, pubsub://PROJECT, "
        "kafka://HOST:PORT (default: TRACKLINE_BUS_URI, else the log under the home).",
    ),
]
TopicOpt = Annotated[str, typer.Option("--topic", help="Topic to use.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON summary.")]


def publish(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", "-n", help="Events to publish.")] = 1000,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Events per second (default: flat out).")
    ] = None,
    types: Annotated[
        str,
        typer.Option("--types", help=f"Comma-separated event types ({', '.join(EVENT_TYPES)})."),
    ] = ",".join(DEFAULT_TYPES),
    invalid_share: Annotated[
        float, typer.Option("--invalid-share", help="Share of invalid events (0..1).")
    ] = 0.0,
    bus_uri: BusOpt = None,
    topic: TopicOpt = "events",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same events.")] = 0,
    json_: JsonOpt = False,
) -> None:
    """Publish realistic events (the contracts' shapes, mixed types) onto the bus."""
    if count < 0:
        raise UsageError(f"--count must be >= 0, got {count}")
    if rate is not None and rate <= 0:
        raise UsageError(f"--rate must be > 0 events per second, got {rate}")
    from trackline.bus.base import open_bus, redact
    from trackline.contracts.loader import ContractRegistry
    from trackline.stream.publisher import publish_events

    settings = state(ctx).settings()
    settings.ensure_home()
    chosen = parse_types(types)
    bus = open_bus(bus_uri, settings)
    try:
        result = publish_events(
            bus,
            topic,
            count,
            chosen,
            ContractRegistry(settings.contracts_dir),
            invalid_share=invalid_share,
            seed=seed,
            rate=rate,
        )
    finally:
        bus.close()
    summary = {"bus": redact(bus_uri or settings.bus), "topic": topic, **result.summary()}
    if json_:
        print_json(summary)
        return
    out.print(
        f"published {result.published} events to {topic} "
        f"({summary['events_per_second']}/s): {dict(result.by_type)}",
        markup=False,
    )


def stream(
    ctx: typer.Context,
    bus_uri: BusOpt = None,
    topic: TopicOpt = "events",
    max_events: Annotated[
        int | None, typer.Option("--max-events", help="Stop after this many events.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option("--idle-exit", help="Stop after this many idle seconds.")
    ] = None,
    group: Annotated[str, typer.Option("--group", help="Consumer group.")] = "trackline-stream",
    json_: JsonOpt = False,
    beam_args: Annotated[
        list[str] | None,
        typer.Argument(help="After `--`: Beam pipeline options (--name=value, --engine beam)."),
    ] = None,
    engine_name: EngineOpt = "local",
    runner: RunnerOpt = "DirectRunner",
    project: ProjectOpt = None,
    region: RegionOpt = None,
    temp_location: TempOpt = None,
    num_workers: WorkersOpt = None,
    subscription: Annotated[
        str | None,
        typer.Option(
            "--subscription",
            help="Beam: read projects/P/subscriptions/S (else a subscription on --topic).",
        ),
    ] = None,
    id_label: Annotated[
        str | None,
        typer.Option("--id-label", help="Beam: the attribute Pub/Sub dedups redeliveries by."),
    ] = None,
) -> None:
    """Consume events into the lake (raw, errors) and the warehouse, exactly once per event."""
    options = runner_options(
        engine_name, runner, project, region, temp_location, num_workers, beam_args or []
    )
    if options is None:
        if subscription or id_label:
            raise UsageError("--subscription and --id-label: only with --engine beam")
    else:
        if bus_uri or max_events is not None or idle_exit is not None:
            raise UsageError(
                "--bus, --max-events and --idle-exit: not with --engine beam (it reads Pub/Sub "
                "and runs until stopped)"
            )
        from trackline.engines.beam.options import require_beam

        require_beam()
        from trackline.engines.beam.run_stream import run_stream

        summary = run_stream(
            state(ctx).settings(),
            options,
            topic=topic,
            subscription=subscription,
            id_label=id_label,
        )
        if json_:
            print_json(summary)
        else:
            out.print(f"beam stream ended: {summary['state']}", markup=False)
        return
    from trackline.bus.base import open_bus, redact
    from trackline.stream.consumer import StreamProcessor

    settings = state(ctx).settings()
    bus = open_bus(bus_uri, settings)
    try:
        proc = StreamProcessor(settings, bus, topic=topic, group=group)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            err.print(f"{signal.Signals(signum).name}: finishing the current batch", markup=False)
            proc.stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        proc.run(max_events=max_events, idle_exit=idle_exit)
        summary = {"bus": redact(bus_uri or settings.bus), **proc.summary()}
    finally:
        bus.close()
    if json_:
        print_json(summary)
        return
    lat = summary["latency_ms"]
    out.print(
        f"{summary['events']} events ({summary['valid']} valid, {summary['rejected']} rejected, "
        f"{summary['duplicates']} duplicates) at {summary['events_per_second']}/s; "
        f"latency p50 {lat['p50']} ms, p99 {lat['p99']} ms",
        markup=False,
    )


def tail(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic to print (events, cdc.carts...).")],
    bus_uri: BusOpt = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest retained message.")
    ] = False,
    max_messages: Annotated[
        int | None, typer.Option("--max", help="Stop after this many messages.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option("--idle-exit", help="Stop after this many idle seconds.")
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: data, attributes, id.")
    ] = False,
) -> None:
    """Print a topic's messages as they arrive (a private group: other consumers unaffected)."""
    from trackline.bus.base import BusError, open_bus

    settings = state(ctx).settings()
    bus = open_bus(bus_uri, settings)
    group = f"tail-{uuid.uuid4().hex[:12]}"
    seen = 0
    idle_since = time.monotonic()
    start: Start = "earliest" if from_beginning else "latest"
    reachable = True
    try:
        while max_messages is None or seen < max_messages:
            want = 500 if max_messages is None else min(500, max_messages - seen)
            got = bus.consume(topic, group, want, timeout=0.5, start=start)
            if not got:
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            for m in got:
                text = m.data.decode("utf-8", "replace")
                if json_:
                    try:
                        data: object = json.loads(text)
                    except ValueError:
                        data = text  # not JSON: printed as the string it is
                    # One JSON Lines record, strict (a NaN in the data is null), via the shared
                    # encoder; the data's own text is left as it is.
                    line = json.dumps(
                        jsonable({"id": m.id, "attributes": m.attributes, "data": data}),
                        ensure_ascii=False,
                        allow_nan=False,
                    )
                else:
                    attrs = " ".join(f"{k}={v}" for k, v in m.attributes.items())
                    line = f"{m.id}\t{attrs}\t{text}"
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
            bus.ack(topic, group, got)
            seen += len(got)
    except KeyboardInterrupt:
        pass
    except BusError:
        reachable = False  # the bus gave up already: removing the group would wait again
        raise
    finally:
        try:
            if reachable:
                bus.delete_group(topic, group)
        finally:
            bus.close()


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
    app.command("stream")(stream)
    app.command("tail")(tail)
