"""The one declaration of tickerbeat's queues.

Everything else is derived from ``QUEUES``: Celery's ``task_queues`` and ``task_routes``, the worker
``-Q`` lists and concurrency used by ``make worker``/``make run``/the demo, and the services of
``docker-compose.yml`` (checked by a test). Add a queue here and nowhere else.

A task is routed by the module that defines it: ``tasks/finnhub.py`` → queue ``finnhub``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueSpec:
    """One Celery queue and how its consumers run.

    ``concurrency``: prefork processes of the worker that consumes it (a worker per queue).
    ``prefetch``: ``worker_prefetch_multiplier``; 1 on provider queues so a slow quota never holds
    messages another worker could run.
    ``provider``: the queue's tasks call that provider and are paced by its global quota.
    ``pool``: the concurrency pool (a Redis lease, see ``ratelimits.Pool``) its tasks hold while they run.
    ``modules``: the ``tasks`` modules whose tasks are routed here.
    ``soft_limit``/``hard_limit``: seconds a task of the queue may run. At the soft limit the task gets
    ``SoftTimeLimitExceeded`` (a provider call ends as outcome ``timeout``, a beat slot is marked failed);
    at the hard limit the worker kills its process. Both stay below the broker's visibility timeout
    (``time_limits``), or a task still running would be delivered again and run twice.
    """

    name: str
    purpose: str
    concurrency: int
    modules: tuple[str, ...]
    prefetch: int = 1
    provider: bool = False
    pool: str | None = None
    # Planning and bookkeeping take seconds; tier re-assignment reads a month of bars.
    soft_limit: int = 600
    hard_limit: int = 660


# A provider call's task: its pool wait (jobs.fetching, 60 s), its quota wait (TICKERBEAT_QUOTA_MAX_WAIT_SECONDS,
# 30 s) and the HTTP deadline (<P>_DEADLINE_SECONDS, 60 s) come to 150 s; the store a few seconds more. The
# hard limit stays below TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS (300 s), so a release is presumed lost only
# when its task is surely gone.
FETCH_LIMITS = {"soft_limit": 180, "hard_limit": 210}

QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        "finnhub",
        "Finnhub quotes and symbol lists",
        4,
        ("tasks.finnhub",),
        provider=True,
        pool="api_calls",
        **FETCH_LIMITS,
    ),
    QueueSpec(
        "alphavantage",
        "Alpha Vantage gap repair (25 calls/day)",
        1,
        ("tasks.alphavantage",),
        provider=True,
        pool="api_calls",
        **FETCH_LIMITS,
    ),
    QueueSpec(
        "polygon",
        "Polygon/Massive grouped daily bars and backfill",
        2,
        ("tasks.polygon",),
        provider=True,
        pool="api_calls",
        **FETCH_LIMITS,
    ),
    QueueSpec(
        "yahoo",
        "Yahoo chart history, best-effort fallback",
        1,
        ("tasks.yahoo",),
        provider=True,
        pool="api_calls",
        **FETCH_LIMITS,
    ),
    QueueSpec(
        "compute",
        "indicators, data quality, model predictions, recommendations",
        2,
        ("tasks.analysis", "tasks.recommendations"),
        prefetch=1,
        pool="compute_intensive",
        # a day's analysis of 6,500 symbols takes ~10 s, training ~15 s on a quiet host (docs/benchmarks.md);
        # a hundred times that is a task that will not finish
        soft_limit=1500,
        hard_limit=1800,
    ),
    QueueSpec(
        "control",
        "planning, the dispatch feeder, tiers, bootstrap",
        1,
        ("tasks.planner", "tasks.dispatch", "tasks.tiers"),
        prefetch=1,
    ),
    QueueSpec(
        "maintenance",
        "cache warming, database upkeep, backups, retention, watchdog",
        1,
        ("tasks.maintenance",),
        prefetch=1,
        pool="database_tasks",
        soft_limit=2400,  # a backup or VACUUM of a large database takes minutes
        hard_limit=2700,
    ),
)

QUEUE_NAMES: tuple[str, ...] = tuple(q.name for q in QUEUES)
PROVIDERS: tuple[str, ...] = tuple(q.name for q in QUEUES if q.provider)
BY_NAME: dict[str, QueueSpec] = {q.name: q for q in QUEUES}


def queue_for_task(task_name: str) -> str | None:
    """The queue of a task named ``tasks.<module>.<function>``, or None for tasks we do not own."""
    module = task_name.rpartition(".")[0]
    for q in QUEUES:
        if module in q.modules:
            return q.name
    return None


# The share of the broker's visibility timeout a hard limit may reach: the rest is the margin for the
# message's wait between delivery and start, and for the worker to notice the limit.
VISIBILITY_SHARE = 0.9


def time_limits(spec: QueueSpec, visibility_timeout: float) -> tuple[int, int]:
    """(soft, hard) seconds for the tasks of ``spec`` under a broker ``visibility_timeout`` (seconds): as
    declared while the hard limit is below ``VISIBILITY_SHARE`` of the timeout, else both scaled down to fit
    (a short timeout, as in the end-to-end tests), so that no task can still run when its message comes
    back. Soft stays below hard."""
    ceiling = int(visibility_timeout * VISIBILITY_SHARE)
    if spec.hard_limit <= ceiling:
        return spec.soft_limit, spec.hard_limit
    hard = max(2, ceiling)
    return max(1, min(hard - 1, spec.soft_limit * hard // spec.hard_limit)), hard


def task_modules() -> tuple[str, ...]:
    """Every tasks module, for the Celery app's ``include``."""
    return tuple(m for q in QUEUES for m in q.modules)
