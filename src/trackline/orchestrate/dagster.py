"""The friend-group flow as Dagster software-defined assets (`pip install 'trackline[dagster]'`).

    fetched ─► one asset per dataset (listens, playlist_tracks, ...) ─► one asset per mart
                 └─ checks from the contract: rejected_share, conservation     └─► group_report

`fetched` fetches every active member and provider of the group into the spool (a member who
fails is named in its metadata; it fails only when nobody could be fetched). The dataset assets
are one multi-asset: one ingest run per dataset, each asset with its run id and counts as
metadata, and two checks per dataset: `rejected_share` (at most `quality_max_rejected_share`;
blocking, so the marts are not built over a bad load) and `conservation` (input = valid +
rejected + duplicates, and the warehouse holds exactly `valid` rows of the run). The marts are
one subsettable multi-asset built by dbt (`+mart` per selected mart). Everything calls
`trackline.orchestrate.flow`, the same steps as the Airflow DAG.
"""

# No `from __future__ import annotations`: Dagster reads the assets' annotations at definition
# time, and they name `dagster`, imported inside the factory (it is an extra).
import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from trackline.config import Settings
from trackline.extras import require_extra
from trackline.orchestrate import flow

#: The dbt marts (models/dbt/models/marts), one asset each.
MARTS = (
    "user_top_tracks",
    "user_top_artists",
    "user_daily_listening",
    "group_overlap",
    "slice_engagement",
)


def member_datasets() -> list[str]:
    """Datasets the per-member connectors produce (those with accounts: Spotify, YouTube)."""
    from trackline.pipelines.fetch import CONNECTORS

    found: set[str] = set()
    for module in CONNECTORS.values():
        mod = importlib.import_module(module)
        if mod.NEEDS_USER:
            found.update(mod.DATASETS)
    return sorted(found)


def friend_group_definitions(group: str, *, settings: Mapping[str, Any] | None = None) -> Any:
    """`dagster.Definitions` with the assets and checks of `group`'s flow."""
    require_extra("dagster", "dagster", "the Dagster assets")
    import dagster as dg

    return dg.Definitions(assets=friend_group_assets(group, settings=settings))


def friend_group_assets(group: str, *, settings: Mapping[str, Any] | None = None) -> list[Any]:
    """The asset definitions (for `materialize()` or your own `Definitions`)."""
    require_extra("dagster", "dagster", "the Dagster assets")
    import dagster as dg

    overrides = dict(settings or {})
    Settings.load(**overrides)  # a bad setting fails when the definitions load

    def load() -> Settings:
        return Settings.load(**overrides)

    datasets = member_datasets()

    @dg.asset(name="fetched", group_name="trackline", description="Members' API data, spooled")
    def fetched(context: dg.AssetExecutionContext) -> dg.Output[list[dict[str, Any]]]:
        s = load()
        done: list[dict[str, Any]] = []
        failed: dict[str, str] = {}
        for spec in flow.plan_fetches(s, group):
            label = f"{spec['provider']}/{spec['user_id']}"
            try:
                done.append(flow.fetch(s, spec["provider"], spec["user_id"]))
            except flow.StepFailed as exc:
                context.log.warning(f"fetch {label} failed: {exc}")
                failed[label] = str(exc)
        if failed and not done:
            raise dg.Failure(f"no member of {group!r} could be fetched: {failed}")
        meta: dict[str, Any] = {
            "fetched": [f"{f['provider']}/{f['user_id']}" for f in done],
            "failed": failed,
        }
        return dg.Output(done, metadata=meta)

    checks = [
        spec
        for d in datasets
        for spec in (
            dg.AssetCheckSpec(
                "rejected_share",
                asset=d,
                blocking=True,
                description="Rejected rows are at most quality_max_rejected_share of the input",
            ),
            dg.AssetCheckSpec(
                "conservation",
                asset=d,
                blocking=True,
                description="input = valid + rejected + duplicates; the run added `valid` rows",
            ),
        )
    ]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                d, group_name="trackline", deps=["fetched"], description=f"Warehouse table {d}"
            )
            for d in datasets
        ],
        check_specs=checks,
        ins={"fetched": dg.AssetIn("fetched")},
        name="ingest",
    )
    def ingest(
        context: dg.AssetExecutionContext, fetched: list[dict[str, Any]]
    ) -> Iterator[dg.MaterializeResult[Any]]:
        s = load()
        runs = flow.ingest(s, fetched)
        for d in datasets:
            run = runs.get(d)
            if run is None:  # nothing was fetched for it this time
                run = {"run_id": "", "input": 0, "valid": 0, "rejected": 0, "duplicates": 0}
            yield dg.MaterializeResult(
                asset_key=d,
                metadata={
                    k: run[k] for k in ("run_id", "input", "valid", "rejected", "duplicates")
                },
                check_results=_checks(s, d, run),
            )

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(m, group_name="trackline", deps=datasets, description=f"dbt mart {m}")
            for m in MARTS
        ],
        can_subset=True,
        name="marts",
    )
    def marts(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult[Any]]:
        chosen = sorted(k.to_user_string() for k in context.selected_asset_keys)
        summary = flow.model(load(), [f"+{m}" for m in chosen])
        for m in chosen:
            yield dg.MaterializeResult(asset_key=m, metadata={"models_ok": summary["models"]["ok"]})

    @dg.asset(
        name="group_report", group_name="trackline", deps=datasets,
        description="The group's listening report and the day's aggregates",
    )  # fmt: skip
    def group_report() -> dg.MaterializeResult[Any]:
        report = flow.analytics(load(), group)
        return dg.MaterializeResult(
            metadata={
                "members": report["members"],
                "plays": report["plays"],
                "aggregates_written": report["aggregates_written"],
            }
        )

    return [fetched, ingest, marts, group_report]


def _checks(settings: Settings, dataset: str, run: dict[str, Any]) -> list[Any]:
    """The contract's checks over one ingest run, as Dagster check results."""
    import dagster as dg

    from trackline.core.dialect import ident
    from trackline.warehouse.base import open_warehouse

    total = int(run["input"])
    share = int(run["rejected"]) / total if total else 0.0
    limit = settings.quality_max_rejected_share
    loaded = 0
    if run["run_id"]:
        wh = open_warehouse(settings, read_only=True)  # the configured one: DuckDB or BigQuery
        try:
            body = wh.query(
                f"SELECT count(*) AS n FROM {ident(dataset)} WHERE run_id = $r",
                {"r": run["run_id"]},
            )
            loaded = int(body.column("n")[0].as_py())
        finally:
            wh.close()
    adds_up = total == int(run["valid"]) + int(run["rejected"]) + int(run["duplicates"])
    return [
        dg.AssetCheckResult(
            check_name="rejected_share",
            asset_key=dataset,
            passed=share <= limit,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rejected_share": round(share, 6), "threshold": limit},
        ),
        dg.AssetCheckResult(
            check_name="conservation",
            asset_key=dataset,
            passed=adds_up and loaded == int(run["valid"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"input": total, "valid": int(run["valid"]), "in_warehouse": loaded},
        ),
    ]
