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
    """

    name: str
    purpose: str
    concurrency: int
    modules: tuple[str, ...]
    prefetch: int = 1
    provider: bool = False
    pool: str | None = None


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        "finnhub", "Finnhub quotes and symbol lists", 4, ("tasks.finnhub",), provider=True, pool="api_calls"
    ),
    QueueSpec(
        "alphavantage",
        "Alpha Vantage gap repair (25 calls/day)",
        1,
        ("tasks.alphavantage",),
        provider=True,
        pool="api_calls",
    ),
    QueueSpec(
        "polygon",
        "Polygon/Massive grouped daily bars and backfill",
        2,
        ("tasks.polygon",),
        provider=True,
        pool="api_calls",
    ),
    QueueSpec(
        "yahoo",
        "Yahoo chart history, best-effort fallback",
        1,
        ("tasks.yahoo",),
        provider=True,
        pool="api_calls",
    ),
    QueueSpec(
        "compute",
        "indicators, data quality, model predictions, recommendations",
        2,
        ("tasks.analysis", "tasks.recommendations"),
        prefetch=1,
        pool="compute_intensive",
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


def task_modules() -> tuple[str, ...]:
    """Every tasks module, for the Celery app's ``include``."""
    return tuple(m for q in QUEUES for m in q.modules)
