"""The first run's history: two years of bars, one Polygon grouped-daily call per session, at the quota's pace.

The backfill is not bound to a window: each ``history-backfill`` run admits what the quota can serve and
carries the rest, so the history is complete after the quota floor of its calls (``quota_floor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import marketcal
from ratelimits import Policy
from ratelimits.schedule import quota_floor

HISTORY_DAYS = 730  # the free Polygon plan's two years (tasks.planner.HISTORY_DAYS)
HISTORY_PROVIDER = "polygon"


def history_sessions(end: date, history_days: int = HISTORY_DAYS) -> int:
    """Grouped-daily calls a first run makes for the session ``end``: the NYSE sessions after
    ``end - history_days`` through ``end`` (a day's margin inside Polygon's two-year limit), as
    ``tasks.planner.plan_backfill`` counts them on an empty database."""
    start = end - timedelta(days=history_days)
    return len(marketcal.trading_days(start + timedelta(days=1), end))


@dataclass(frozen=True)
class HistoryRow:
    """The first run's history load: ``calls`` on ``provider`` under ``policy`` (its text), complete
    ``seconds`` after the first call at the quota floor (the quota's own pace from an idle start)."""

    provider: str
    policy: str
    calls: int
    seconds: float


def history_backfill(
    policy: Policy, calls: int, guard: float = 0.0, provider: str = HISTORY_PROVIDER
) -> HistoryRow:
    """The history load of ``calls`` grouped calls at ``policy``'s floor with a ``guard`` in seconds."""
    return HistoryRow(provider, str(policy), calls, quota_floor(policy, calls, guard))
