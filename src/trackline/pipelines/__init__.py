"""Per-user pipelines a session worker runs: the seam between the worker and the connectors."""

from trackline.pipelines.base import (
    PIPELINES,
    UserOutcome,
    UserPipeline,
    open_pipeline,
)

__all__ = ["PIPELINES", "UserOutcome", "UserPipeline", "open_pipeline"]
