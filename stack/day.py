"""One trading day, driven the way beat drives it: the same tasks, in the schedule's order.

``run_day`` sends each phase's task with an explicit ``day`` (no calendar gate: the day is chosen by
the caller), moves the sandbox's clock to the phase's New York time when a sandbox is given, and
waits until every queue is drained before the next phase. Used by ``make demo``, ``bench/day.py``
and the end-to-end tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time

import marketcal
from worker.queues import QUEUE_NAMES


@dataclass(frozen=True)
class Phase:
    name: str
    task: str
    at: str  # New York time of the beat entry it stands for ("+1 00:30" = the next calendar day)
    kwargs: dict = field(default_factory=dict)


# The schedule's day (beat_schedule.py), history and universe first.
DAY_PHASES: tuple[Phase, ...] = (
    Phase("tier 1 quotes (market hours)", "tasks.planner.plan_quotes", "10:30", {"tiers": [1]}),
    Phase("tier 1-2 quotes at the close", "tasks.planner.plan_quotes", "16:00", {"tiers": [1, 2]}),
    Phase("tier 3 quotes", "tasks.planner.plan_quotes", "17:00", {"tiers": [3]}),
    Phase("technical analysis", "tasks.analysis.analyse_day", "18:00"),
    Phase("model predictions", "tasks.recommendations.predict_day", "19:00"),
    Phase("recommendations and report", "tasks.recommendations.recommend_day", "20:00"),
    Phase("official end-of-day bars", "tasks.planner.plan_eod", "+1 00:30"),
)


def queue_depth(redis_client) -> int:
    """Messages waiting in every declared queue plus messages delivered but not yet acknowledged."""
    pipe = redis_client.pipeline()
    for name in QUEUE_NAMES:
        pipe.llen(name)
    pipe.hlen("unacked")
    return sum(pipe.execute())


def wait_idle(
    redis_client,
    timeout: float,
    on_tick: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
    settle: float = 1.0,
) -> float:
    """Block until nothing is queued or running (twice in a row, ``settle`` s apart); returns seconds waited."""
    start = time.monotonic()
    quiet = 0
    while True:
        if check:
            check()
        depth = queue_depth(redis_client)
        if on_tick:
            on_tick(depth)
        quiet = quiet + 1 if depth == 0 else 0
        if quiet >= 2:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(
                f"pipeline still busy after {timeout:.0f} s ({depth} messages queued or running)"
            )
        time.sleep(settle if depth == 0 else 0.5)


def phase_instant(day: date, at: str) -> datetime:
    offset, _, hhmm = at.rpartition(" ")
    hour, minute = (int(x) for x in hhmm.split(":"))
    local_day = day + timedelta(days=int(offset or 0))
    return datetime.combine(local_day, clock_time(hour, minute), tzinfo=marketcal.EASTERN)


def send_and_wait(app, redis_client, task: str, kwargs: dict, timeout: float, **wait) -> tuple[dict, float]:
    """Send one task, wait for its result, then for everything it started; returns (result, seconds)."""
    start = time.monotonic()
    result = app.signature(task, kwargs=kwargs).apply_async()
    try:
        value = result.get(timeout=timeout, propagate=True)
    finally:
        del result  # unsubscribe now, while the broker still answers (not at interpreter exit)
    wait_idle(redis_client, timeout, **wait)
    return value, time.monotonic() - start
