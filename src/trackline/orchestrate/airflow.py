"""The friend-group flow as an Airflow DAG (`pip install 'trackline[airflow]'`).

    plan ─► fetch[provider, member] (dynamic task mapping) ─► ingest ─► model ─► analytics
                                                                  └── run ids ──► quality_gate

Each task calls trackline as a library (`trackline.orchestrate.flow`), never a shell; run ids
travel from `ingest` to `quality_gate` through XCom. One member's failing fetch fails only its
own mapped task: `ingest` runs once every fetch is done and at least one succeeded, and loads
what the others fetched; the run's state follows its last task (Airflow's rule), so the failed
member shows on its own mapped task. A fetch that cannot succeed on a retry (a refused
refresh token) fails at once, without retries.
Settings come from the environment (`TRACKLINE_*`) of the worker running a task, overridden
by `settings`, so tasks on other machines need the same home (lake, warehouse, spool) or
remote URIs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from trackline.config import Settings
from trackline.extras import require_extra
from trackline.orchestrate import flow

if TYPE_CHECKING:
    from airflow.sdk import DAG


@dataclass(frozen=True)
class TaskPolicy:
    """Retries and a time limit for one kind of task."""

    retries: int
    timeout: timedelta
    retry_delay: timedelta = timedelta(minutes=1)


#: Defaults: fetches retry (an API outage passes), the rest fail fast. A fetch's limit covers
#: the HTTP client's own retries; a model build's covers every dbt model and test.
POLICIES: dict[str, TaskPolicy] = {
    "plan": TaskPolicy(retries=1, timeout=timedelta(minutes=2)),
    "fetch": TaskPolicy(retries=2, timeout=timedelta(minutes=15), retry_delay=timedelta(minutes=2)),
    "ingest": TaskPolicy(retries=1, timeout=timedelta(minutes=30)),
    "model": TaskPolicy(retries=1, timeout=timedelta(minutes=30)),
    "analytics": TaskPolicy(retries=1, timeout=timedelta(minutes=10)),
    "quality_gate": TaskPolicy(retries=0, timeout=timedelta(minutes=5)),
}


def friend_group_dag(
    group: str,
    schedule: str | None = "@hourly",
    *,
    dag_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
    select: list[str] | None = None,
    policies: Mapping[str, TaskPolicy] | None = None,
    start_date: datetime | None = None,
) -> DAG:
    """A DAG that fetches `group`'s members, ingests, models, analyses and gates on quality.

    `settings`: overrides of trackline settings (e.g. `{"home": "/data/trackline"}`);
    `select`: a dbt selection for the model task (default: everything); `policies`: per task
    name (`plan`, `fetch`, `ingest`, `model`, `analytics`, `quality_gate`) retries and timeout.
    """
    require_extra("airflow.sdk", "airflow", "the Airflow DAG")
    from airflow.sdk import DAG, get_current_context, task
    from airflow.sdk.exceptions import AirflowFailException
    from airflow.task.trigger_rule import TriggerRule

    overrides = dict(settings or {})
    Settings.load(**overrides)  # a bad setting fails when the DAG file is parsed, not hourly
    rules = {**POLICIES, **(policies or {})}
    group_tag = "".join(c if c.isalnum() or c in "-_." else "_" for c in group)

    def load() -> Settings:
        return Settings.load(**overrides)

    def step(name: str, **extra: Any) -> Callable[[Callable[..., Any]], Any]:
        """The task decorator with this step's id, retries and time limit."""
        p = rules[name]
        decorate = task(
            task_id=name,
            retries=p.retries,
            retry_delay=p.retry_delay,
            execution_timeout=p.timeout,
            **extra,
        )
        return cast(Callable[[Callable[..., Any]], Any], decorate)

    with DAG(
        dag_id or f"trackline_group_{group_tag}",
        schedule=schedule,
        start_date=start_date or datetime(2024, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,  # a DuckDB warehouse takes one writer at a time
        tags=["trackline"],
        doc_md=__doc__,
    ) as dag:

        @step("plan")
        def plan() -> list[dict[str, str]]:
            return flow.plan_fetches(load(), group)

        @step("fetch", map_index_template="{{ member }}")
        def fetch(spec: dict[str, str]) -> dict[str, Any]:
            label = f"{spec['provider']}/{spec['user_id']}"
            get_current_context()["member"] = label  # type: ignore[typeddict-unknown-key]
            try:
                return flow.fetch(load(), spec["provider"], spec["user_id"])
            except flow.StepFailed as exc:
                if exc.permanent:
                    raise AirflowFailException(str(exc)) from None
                raise

        @step("ingest", trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
        def ingest(fetched: Any) -> dict[str, dict[str, Any]]:
            done = [f for f in fetched if f is not None]  # a failed fetch left no XCom
            return flow.ingest(load(), done)

        @step("model")
        def model() -> dict[str, Any]:
            return flow.model(load(), select)

        @step("analytics")
        def analytics() -> dict[str, Any]:
            ctx = get_current_context()
            when = ctx.get("data_interval_start") or ctx.get("logical_date")
            return flow.analytics(load(), group, when.date() if when is not None else None)

        @step("quality_gate")
        def quality_gate(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return flow.quality_gate(load(), runs)

        fetched = fetch.expand(spec=plan())
        runs = ingest(fetched)
        built = model()
        analysed = analytics()
        gate = quality_gate(runs)
        runs >> built >> analysed >> gate
    return dag
