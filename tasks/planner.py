"""Queue ``control``: the planner's tasks (``jobs.planner`` decides, the paced dispatcher makes the calls)."""

from __future__ import annotations

import uuid

from jobs import names, planner
from runtime import resources
from tasks.base import tickerbeat_task


def run_id(kind: str, day: str, task_id: str | None) -> str:
    """Stable for one planning decision: a redelivered planner task (same id) admits nothing twice."""
    return f"{kind}:{day}:{(task_id or uuid.uuid4().hex)[:12]}"


@tickerbeat_task(name="tasks.planner.plan_refresh", expires=3600, bind=True)
def plan_refresh(self, tiers: list[int], day: str, provider: str = "finnhub", per_run: int | None = None,
                 window_seconds: float = 50 * 60) -> dict:  # fmt: skip
    """Refresh ``tiers`` from ``provider`` on ``day`` (``jobs.planner.plan_refresh``)."""
    rid = run_id(f"{provider}-refresh", day, self.request.id)
    return planner.plan_refresh(resources.current(), rid, tiers, day, provider, per_run, window_seconds)


@tickerbeat_task(name="tasks.planner.plan_eod", expires=3 * 3600)
def plan_eod(day: str, window_seconds: float = 3 * 3600) -> dict:
    """Official bars for ``day`` and the session before, first in Polygon's line (``jobs.planner``)."""
    return planner.plan_eod(resources.current(), day, window_seconds)


@tickerbeat_task(name=names.AFTER_EOD, expires=3 * 3600)
def after_eod(run_id: str, day: str, window_seconds: float = 2 * 3600) -> dict:
    """The symbols still missing ``day``'s bar to Yahoo, then Alpha Vantage; the rest marked stale."""
    return planner.after_eod(resources.current(), run_id, day, window_seconds)


@tickerbeat_task(name=names.PLAN_BACKFILL, expires=3 * 3600, bind=True)
def plan_backfill(
    self, day: str, history_days: int = planner.HISTORY_DAYS, window_seconds: float | None = None
) -> dict:
    """Two years of history, one grouped call per missing session, paced until done (``jobs.planner``).
    ``window_seconds`` is accepted for old messages and ignored: the history run has no deadline."""
    return planner.plan_backfill(
        resources.current(), run_id("backfill", day, self.request.id), day, history_days
    )


@tickerbeat_task(name=names.AFTER_BACKFILL)
def after_backfill(run_id: str, day: str) -> dict:
    return planner.after_backfill(resources.current(), run_id, day)


@tickerbeat_task(name="tasks.planner.check_budget", expires=3000)
def check_budget(day: str) -> dict:
    """Month-to-date cost and projection; sets conservation mode (``jobs.planner.check_budget``)."""
    return planner.check_budget(resources.current(), day)
