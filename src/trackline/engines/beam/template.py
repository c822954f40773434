"""The Dataflow Flex Template's entry point (`deploy/dataflow/main.py` calls `main`).

The template's parameters (`deploy/dataflow/metadata.json`) arrive as `--name=value`: `mode`
(`batch` or `stream`), `inputs` (comma-separated URIs) and `dataset` for a batch, `topic` or
`subscription` and `id_label` for a stream, `lake_uri` and `warehouse_uri`; every other
argument (project, region, temp_location, staging_location, service account...) is Dataflow's
and passes through to the pipeline's options. The batch mode is `trackline ingest --engine
beam --runner DataflowRunner`: the launcher plans and lands, waits for the job, then loads the
warehouse and writes the manifest; the stream mode submits the streaming job and returns.

`graph` builds the same pipeline without running it (the offline test of the Dataflow graph).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.beam.options import RunnerOptions
from trackline.errors import UsageError

# the parameters metadata.json declares (the rest are Dataflow's own options)
PARAMETERS = (
    "mode",
    "inputs",
    "dataset",
    "topic",
    "subscription",
    "id_label",
    "lake_uri",
    "warehouse_uri",
)


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The template's own parameters, and Dataflow's (passed through)."""
    ap = argparse.ArgumentParser(prog="trackline-dataflow", add_help=False)
    ap.add_argument("--mode", choices=("batch", "stream"), required=True)
    ap.add_argument("--inputs", default=None)
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--topic", default=None)
    ap.add_argument("--subscription", default=None)
    ap.add_argument("--id_label", default=None)
    ap.add_argument("--lake_uri", required=True)
    ap.add_argument("--warehouse_uri", default=None)
    args, rest = ap.parse_known_args(list(argv))
    if args.mode == "batch" and not (args.inputs and args.dataset):
        raise UsageError("a batch needs --inputs and --dataset")
    if args.mode == "stream" and not (args.topic or args.subscription):
        raise UsageError("a stream needs --topic or --subscription")
    runner = [a for a in rest if a.startswith("--runner")]
    if not runner:
        rest = ["--runner=DataflowRunner", *rest]
    return args, rest


def _options(rest: list[str]) -> RunnerOptions:
    runner = next(a.split("=", 1)[1] for a in rest if a.startswith("--runner="))
    return RunnerOptions(
        runner=runner, extra=tuple(a for a in rest if not a.startswith("--runner"))
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"lake_uri": args.lake_uri}
    if args.warehouse_uri:
        overrides["warehouse_uri"] = args.warehouse_uri
    return Settings.load(**overrides)


def main(argv: Sequence[str]) -> dict[str, Any]:
    """Run the template: a batch ingest to its end, or a streaming job submitted."""
    args, rest = parse(argv)
    settings, options = _settings(args), _options(rest)
    if args.mode == "batch":
        from trackline.engines.beam.engine import BeamEngine

        result = BeamEngine(settings, runner=options).ingest(args.inputs.split(","), args.dataset)
        return result.summary()
    from trackline.engines.beam.run_stream import run_stream

    return run_stream(
        settings,
        options,
        topic=args.topic,
        subscription=args.subscription,
        id_label=args.id_label,
        wait=False,  # submitted: the job runs on Dataflow, the launcher returns
    )


def graph(argv: Sequence[str]) -> Any:
    """The pipeline `main` would run, constructed from the same arguments, not run."""
    import apache_beam as beam

    from trackline.engines.beam import batch, streaming
    from trackline.engines.beam.run_stream import stream_job
    from trackline.engines.stages import plan

    args, rest = parse(argv)
    # Beam's dry run: the options are checked without asking GCS, and nothing is submitted
    settings, options = _settings(args), _options([*rest, "--dry_run=True"])
    streaming_mode = args.mode == "stream"
    p = beam.Pipeline(options=options.pipeline_options(streaming=streaming_mode))
    if streaming_mode:
        job = stream_job(
            settings,
            options,
            topic=args.topic,
            subscription=args.subscription,
            id_label=args.id_label,
            create_tables=False,  # a dry run: BigQuery is not asked
        )
        streaming.build(streaming.read(p, job), job)
        return p
    contract = ContractRegistry(settings.contracts_dir).get(args.dataset)
    files = plan.resolve(args.inputs.split(","))
    staging = f"{settings.lake.rstrip('/')}/_staging/graph"
    batch.build(
        p,
        batch.BatchJob(contract=contract, files=files, now=datetime.now(UTC), staging=staging),
    )
    return p
