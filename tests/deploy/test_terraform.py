"""deploy/terraform: formatted (`terraform fmt -check`), parsed with python-hcl2 for the
resources the deployment needs, generated tables equal to the contracts, and a checkov scan.
`terraform validate`/`plan` need the Google provider, which cannot be downloaded here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from trackline.contracts.loader import ContractRegistry
from trackline.deploy.terraform import GENERATED, is_stale, render
from trackline.models.sources import derived_types
from trackline.warehouse.bigquery_ddl import cluster_fields, table_schema, time_partitioning

hcl2 = pytest.importorskip("hcl2")
ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "deploy" / "terraform"
CI = os.environ.get("CI") == "true"


def _plain(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes and heredoc markers; strip them for assertions."""
    if isinstance(value, dict):
        return {
            _plain(k): _plain(v)
            for k, v in value.items()
            if k not in ("__comments__", "__is_block__")
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        if value.startswith('"<<-EOT\n') or value.startswith("<<-EOT\n"):
            body = value.strip('"').split("\n", 1)[1].rsplit("\n", 1)[0]
            return textwrap.dedent(body)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
    return value


def parsed() -> dict[str, list[dict[str, Any]]]:
    """Every top-level block of every .tf file, by kind (resource, variable, output, ...)."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(TF.glob("*.tf")):
        with path.open() as fh:
            doc = _plain(hcl2.load(fh))
        for kind, items in doc.items():
            blocks.setdefault(kind, []).extend(items)
    return blocks


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for item in parsed().get("resource", []):
        for rtype, named in item.items():
            for name, body in named.items():
                found[(rtype, name)] = body
    return found


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for item in parsed().get(kind, []) for k, v in item.items()}


def locals_() -> dict[str, Any]:
    return {k: v for item in parsed().get("locals", []) for k, v in item.items()}


def test_terraform_fmt_check() -> None:
    exe = shutil.which("terraform")
    if exe is None:
        if CI:
            pytest.fail("terraform is not on PATH")
        pytest.skip("terraform is not on PATH")
    proc = subprocess.run(
        [exe, "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_the_generated_tables_are_current() -> None:
    contracts = ContractRegistry(None).all()
    assert not is_stale(TF, contracts), (
        f"deploy/terraform/{GENERATED} is stale: run `trackline deploy terraform --out "
        "deploy/terraform` and commit it"
    )


def test_one_table_per_contract_with_its_partitioning_clustering_and_run_columns() -> None:
    res = resources()
    for contract in ContractRegistry(None).all():
        table = res[("google_bigquery_table", f"contract_{contract.name}")]
        assert table["table_id"] == contract.name
        assert 'layer[\\"bronze\\"]' in table["dataset_id"] or '"bronze"' in table["dataset_id"]
        schema = json.loads(table["schema"])
        expected = table_schema(contract, derived_types(contract))
        assert [(c["name"], c["type"], c["mode"]) for c in schema] == expected
        assert {"ingestion_time", "run_id"} <= {c["name"] for c in schema}
        part = time_partitioning(contract)
        if part is None:
            assert "time_partitioning" not in table
        else:
            [tp] = table["time_partitioning"]
            assert (tp["field"], tp["type"]) == part
        assert table.get("clustering", []) == cluster_fields(contract)


def test_a_changed_contract_makes_the_committed_file_stale(tmp_path: Path) -> None:
    contracts = ContractRegistry(None).all()
    listens = next(c for c in contracts if c.name == "listens")
    changed = listens.model_copy(update={"cluster_by": ["user_id", "track_id"]})
    edited = [changed if c.name == "listens" else c for c in contracts]
    assert render(edited) != render(contracts)
    assert is_stale(TF, edited)
    # and from the shell: a user contract that overrides a built-in changes the output
    own = tmp_path / "contracts"
    own.mkdir()
    text = (ROOT / "src/trackline/contracts/builtin/listens.yaml").read_text()
    (own / "listens.yaml").write_text(text.replace("cluster_by: [user_id]", "cluster_by: [genre]"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env |= {"TRACKLINE_HOME": str(tmp_path / "home"), "TRACKLINE_CONTRACTS_DIR": str(own)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trackline", "deploy", "terraform", *args],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )  # fmt: skip

    stale = cli("--out", str(TF), "--check", "--json")
    assert stale.returncode == 1 and json.loads(stale.stdout)["stale"] is True
    out = tmp_path / "tf"
    wrote = cli("--out", str(out), "--json")
    assert wrote.returncode == 0 and json.loads(wrote.stdout)["changed"] is True
    assert 'clustering          = ["genre"]' in (out / GENERATED).read_text()


def test_lake_bucket_lifecycle_and_versioning() -> None:
    lake = resources()[("google_storage_bucket", "lake")]
    assert lake["uniform_bucket_level_access"] is True
    assert lake["public_access_prevention"] == "enforced"
    assert lake["versioning"] == [{"enabled": True}]
    rules = lake["lifecycle_rule"]
    nearline = [r for r in rules if r["action"][0]["type"] == "SetStorageClass"]
    assert len(nearline) == 1
    assert nearline[0]["action"][0]["storage_class"] == "NEARLINE"
    assert nearline[0]["condition"][0]["matches_prefix"] == ["raw/"]
    assert "var.raw_nearline_after_days" in nearline[0]["condition"][0]["age"]
    variables = named("variable")
    assert variables["raw_nearline_after_days"]["default"] == 30
    deletes = {
        tuple(r["condition"][0]["matches_prefix"]): r["condition"][0]
        for r in rules if r["action"][0]["type"] == "Delete"
    }  # fmt: skip
    kept = deletes[("manifests/",)]  # manifests keep their old versions for a year
    assert "var.manifest_versions_days" in kept["days_since_noncurrent_time"]
    assert all("manifests/" not in p for p in deletes if p != ("manifests/",))


def test_datasets_topics_subscriptions_firestore_and_services() -> None:
    res = resources()
    assert set(locals_()["layers"]) >= {"bronze", "silver", "gold"}
    assert "toset" in locals_()["topics"]
    for topic in ("events", "sessions", "cdc.carts"):
        assert f'\\"{topic}\\"' in locals_()["topics"] or f'"{topic}"' in locals_()["topics"]
    assert '"${each.key}.dlq"' in json.dumps(res[("google_pubsub_topic", "dead_letter")]["name"])
    stream = res[("google_pubsub_subscription", "stream")]
    assert "push_config" not in stream and stream["enable_message_ordering"] is True
    assert stream["dead_letter_policy"] and stream["retry_policy"]
    push = res[("google_pubsub_subscription", "sessions_push")]
    [cfg] = push["push_config"]
    assert "google_cloud_run_v2_service.worker.uri" in cfg["push_endpoint"]
    assert cfg["push_endpoint"].endswith("/pubsub/push")
    [oidc] = cfg["oidc_token"]
    assert "google_service_account.push.email" in oidc["service_account_email"]
    assert "var.worker_audience" in oidc["audience"]
    assert push["dead_letter_policy"] and push["retry_policy"]
    assert "var.session_timeout_seconds" in push["ack_deadline_seconds"]
    assert res[("google_firestore_database", "state")]["type"] == "FIRESTORE_NATIVE"
    for sa in ("worker", "dashboard", "push", "pipeline"):
        assert ("google_service_account", sa) in res
    assert named("output").keys() >= {"lake_uri", "warehouse_uri", "worker_url", "dashboard_url"}


def test_cloud_run_worker_runs_the_push_endpoint_with_oidc_from_the_environment() -> None:
    res = resources()
    worker = res[("google_cloud_run_v2_service", "worker")]
    assert worker["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    [tpl] = worker["template"]
    assert "google_service_account.worker.email" in tpl["service_account"]
    assert "var.session_timeout_seconds" in tpl["timeout"]
    assert "var.worker_concurrency" in tpl["max_instance_request_concurrency"]
    [container] = tpl["containers"]
    assert container["args"] == ["serve", "worker", "--host", "0.0.0.0"]
    assert container["startup_probe"][0]["http_get"][0]["path"] == "/healthz"
    assert container["liveness_probe"][0]["http_get"][0]["path"] == "/healthz"
    env = locals_()["worker_env"]
    for key in ("TRACKLINE_WORKER_AUTH", "TRACKLINE_WORKER_OIDC_AUDIENCE",
                "TRACKLINE_WORKER_OIDC_EMAIL"):  # fmt: skip
        assert key in env
    # only the push identity may invoke the worker
    invoker = res[("google_cloud_run_v2_service_iam_member", "push_invokes_worker")]
    assert invoker["role"] == "roles/run.invoker" and "push.email" in invoker["member"]
    dash = res[("google_cloud_run_v2_service", "dashboard")]
    [dc] = dash["template"][0]["containers"]
    assert dc["args"][:2] == ["serve", "dashboard"]
    for r in res.values():  # nothing is open to everyone
        assert "allUsers" not in json.dumps(r) and "allAuthenticatedUsers" not in json.dumps(r)


@pytest.mark.slow
def test_checkov_leaves_no_finding_unexplained() -> None:
    """checkov (in its own virtualenv, set up by scripts/checkov.sh on first run): every
    check passes or is skipped inline with a reason (`#checkov:skip=ID:reason`)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "checkov.sh"), "-d", str(TF), "--framework",
         "terraform", "-o", "json", "--compact"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    results = (doc[0] if isinstance(doc, list) else doc)["results"]
    assert results["parsing_errors"] == []
    failed = [(f["check_id"], f["resource"], f["check_name"]) for f in results["failed_checks"]]
    assert failed == [], failed
    for skipped in results["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 20, skipped["check_id"]
    assert results["passed_checks"]  # it did scan the resources
