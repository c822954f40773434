"""The Dataflow Flex Template: its graph is built offline from the template's arguments with
the DataflowRunner's options (constructed, never submitted), its parameters are the ones the
entry point takes, and a DoFn carrying a user's contract survives Beam's pickling (workers get
the contract inside the DoFn; trackline itself from the worker image)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

from trackline.contracts.loader import ContractRegistry
from trackline.engines.beam.dofns import CheckBatch
from trackline.engines.beam.options import RunnerOptions
from trackline.engines.beam.run_stream import stream_job
from trackline.engines.beam.template import PARAMETERS, _settings, graph, parse
from trackline.errors import UsageError
from trackline.generate.writers import write
from trackline.warehouse.bigquery_write import WriteTarget

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "dataflow"
FLOW = [
    "--project=trackline-test",
    "--region=europe-west1",
    "--temp_location=gs://trackline-bucket/tmp",
]


def transforms(p: object) -> set[str]:
    proto = p.to_runner_api()  # type: ignore[attr-defined]
    return {t.unique_name for t in proto.components.transforms.values()}


def test_batch_graph_builds_offline_for_dataflow(tmp_path: Path) -> None:
    f = write("listens", 20, tmp_path / "l.ndjson", seed=1).path
    argv = [
        "--mode=batch",
        f"--inputs={f}",
        "--dataset=listens",
        "--lake_uri=gs://trackline-bucket/lake",
        *FLOW,
    ]
    p = graph(argv)
    opts = p.options
    assert opts.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = opts.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == (
        "trackline-test",
        "europe-west1",
        "gs://trackline-bucket/tmp",
    )
    names = transforms(p)
    for step in ("Read", "Check", "ByKeyBucket", "FirstPerKey", "StageValid", "StageRejected"):
        assert step in names


def test_stream_graph_builds_offline_for_dataflow() -> None:
    argv = [
        "--mode=stream",
        "--subscription=projects/trackline-test/subscriptions/s",
        "--id_label=event_id",
        "--lake_uri=gs://trackline-bucket/lake",
        *FLOW,
    ]
    p = graph(argv)
    assert p.options.view_as(StandardOptions).streaming
    names = transforms(p)
    for step in ("Read", "ByType", "Minutes", "PerTypeAndMinute", "Check"):
        assert step in names


def test_stream_graph_with_bigquery_builds_without_asking_bigquery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no credentials and an endpoint nobody listens on: a call to BigQuery would fail
    monkeypatch.setenv("TRACKLINE_BIGQUERY_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("TRACKLINE_BIGQUERY_STORAGE_ENDPOINT", "127.0.0.1:9")
    argv = [
        "--mode=stream",
        "--subscription=projects/trackline-test/subscriptions/s",
        "--lake_uri=gs://trackline-bucket/lake",
        "--warehouse_uri=bigquery://trackline-test/events",
        *FLOW,
    ]
    p = graph(argv)
    assert "Check" in transforms(p)
    args, _ = parse(argv)
    job = stream_job(
        _settings(args),
        RunnerOptions(runner="DataflowRunner"),
        topic=None,
        subscription=args.subscription,
        id_label=None,
        create_tables=False,
    )
    assert job.bigquery == WriteTarget("trackline-test", "events", "127.0.0.1:9", 15.0)
    assert job.run_id.startswith("stream-beam-")


@pytest.mark.parametrize(
    "argv",
    [
        ["--mode=batch", "--lake_uri=gs://b/l"],  # no inputs, no dataset
        ["--mode=stream", "--lake_uri=gs://b/l"],  # nothing to read
    ],
)
def test_template_refuses_incomplete_parameters(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse(argv)


def test_metadata_declares_exactly_the_entry_points_parameters() -> None:
    meta = json.loads((DEPLOY / "metadata.json").read_text())
    assert sorted(p["name"] for p in meta["parameters"]) == sorted(PARAMETERS)
    required = {p["name"] for p in meta["parameters"] if not p.get("isOptional")}
    assert required == {"mode", "lake_uri"}
    assert "template import main" in (DEPLOY / "main.py").read_text()


def test_a_users_contract_travels_inside_the_dofn(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "mine.yaml").write_text(
        "name: mine\nversion: 1\nprimary_key: [id]\n"
        "fields:\n  id: {type: string, required: true}\n  n: {type: int64, min: 0}\n"
    )
    contract = ContractRegistry(contracts).get("mine")
    dofn = CheckBatch(contract, now=datetime.now(UTC), tolerance=0, buckets=2, threads=1)
    shipped = pickler.loads(pickler.dumps(dofn))  # what a worker unpickles
    shipped.setup()
    try:
        batch = pa.record_batch(
            {
                "_raw": ['{"id": "a", "n": 1}', '{"id": "b", "n": -1}'],
                "_source_file": ["f", "f"],
                "_source_line": pa.array([1, 2], pa.int64()),
            }
        )
        out = list(shipped.process((0, batch)))
    finally:
        shipped.teardown()
    rejected = [o.value for o in out if getattr(o, "tag", None) == "rejected"]
    assert [r["reasons"].to_pylist() for r in rejected] == [[["min:n"]]]
