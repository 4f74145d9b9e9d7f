"""tickerbeat's own ``celery inspect`` and ``celery control`` commands.

    celery -A worker inspect quotas              # per provider: windows, used, limit, next reset, block, waits,
                                                 # lost calls re-driven and given up (TICKERBEAT_MAX_REDRIVES)
    celery -A worker inspect plan [YYYY-MM-DD]   # the day's runs and their ledgers, the planner's decisions,
                                                 # and the capacity plan
    celery -A worker inspect dead_letters        # messages given up after too many deliveries: counts, newest
    celery -A worker control pause_provider NAME # no call to NAME from any worker until resume_provider
    celery -A worker control resume_provider NAME

They are registered in Celery's command registry (``celery.worker.control.Panel``) when this module is
imported, which ``worker.celery`` does: the workers answer them, and the ``celery`` CLI, which validates
command names against the same registry, recognises them. Replies are JSON-safe (no infinities; instants
as ISO 8601 UTC text beside seconds-from-now). They run in the worker's main process, on the process's
``runtime.resources`` (its Redis client, ``Limiter`` and policies from the worker's settings); a pause or
resume written by one worker holds for all, since blocks live in Redis.

What they read and write is ``monitoring.operations``, which ``python -m stack.ops`` also uses to answer
while no worker runs.
"""

from __future__ import annotations

import logging

from celery.worker.control import control_command, inspect_command

from jobs import dead_letters as letters
from monitoring import operations
from monitoring.operations import (  # noqa: F401  (the reports, re-exported for their callers)
    DEFAULT_UNIVERSE,
    PAUSE_REASON,
    check_provider,
    plan_day,
    plan_report,
    quota_report,
)
from runtime import resources

log = logging.getLogger("tickerbeat.control")


@inspect_command(default_timeout=5.0)
def quotas(state, **kwargs):
    """Quota usage per provider: windows (used/limit, next reset), block, waits, violations, and the
    released calls presumed lost: re-driven (back in line) and given up (``redrives``)."""

    return operations.quotas(resources.current())


@inspect_command(default_timeout=5.0, signature="[YYYY-MM-DD]", args=[("day", str)])
def plan(state, day: str | None = None, **kwargs):
    """The day's runs (default: today, New York) with their ledgers, the planner's decisions, the capacity
    plan, and the first start's progress line (``bootstrap``)."""
    try:
        the_day = operations.parse_day(day)
    except ValueError as exc:
        return {"error": str(exc)}
    return operations.plan(resources.current(), the_day)


@inspect_command(default_timeout=5.0)
def dead_letters(state, **kwargs):
    """Dead letters: how many wait for an operator and were replayed, and the newest 20 (``jobs.dead_letters``;
    replay with ``python -m stack.ops dead-letters replay ID``)."""

    return letters.report(resources.current())


@control_command(signature="<provider>", args=[("provider", str)])
def pause_provider(state, provider: str | None = None, **kwargs):
    """Stop every worker calling a provider (a Redis block) until resume_provider."""

    reply = operations.pause(resources.current(), provider)
    if "ok" in reply:
        log.warning("provider %s paused by an operator", provider)
    return reply


@control_command(signature="<provider>", args=[("provider", str)])
def resume_provider(state, provider: str | None = None, **kwargs):
    """Lift a provider's block (an operator pause or a throttle) for every worker."""

    reply = operations.resume(resources.current(), provider)
    if "ok" in reply:
        log.warning("provider %s resumed by an operator", provider)
    return reply
