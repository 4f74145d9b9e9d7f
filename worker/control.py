"""tickerbeat's own ``celery inspect`` and ``celery control`` commands.

    celery -A worker inspect quotas              # per provider: windows, used, limit, next reset, block, waits
    celery -A worker inspect plan [YYYY-MM-DD]   # the day's runs and their ledgers, the planner's decisions,
                                                 # and the capacity plan
    celery -A worker control pause_provider NAME # no call to NAME from any worker until resume_provider
    celery -A worker control resume_provider NAME

They are registered in Celery's command registry (``celery.worker.control.Panel``) when this module is
imported, which ``worker.celery`` does: the workers answer them, and the ``celery`` CLI, which validates
command names against the same registry, recognises them. Replies are JSON-safe (no infinities; instants
as ISO 8601 UTC text beside seconds-from-now). They run in the worker's main process, on the process's
``runtime.resources`` (its Redis client, ``Limiter`` and policies from the worker's settings); a pause or
resume written by one worker holds for all, since blocks live in Redis.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from celery.worker.control import control_command, inspect_command
from sqlalchemy.exc import SQLAlchemyError

import marketcal
from monitoring.ledgers import by_provider, day_ledgers, record
from planning.fit import check
from ratelimits import QuotaError
from runtime import keys, resources
from runtime.queues import PROVIDERS
from storage import StorageError, active_symbols

log = logging.getLogger("tickerbeat.control")

PAUSE_REASON = "paused by operator"
DEFAULT_UNIVERSE = 6500  # planned for when the database has no universe yet (as beat does)


# -- pure reports -------------------------------------------------------------------------------------------


def _instant(epoch: float | None) -> str | None:
    """ISO 8601 UTC text of an epoch instant (seconds); None for None or an infinite instant."""
    if epoch is None or not math.isfinite(epoch):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _in(epoch: float | None, now: float) -> float | None:
    """Seconds from ``now`` to ``epoch`` (rounded to ms); None for None or infinity."""
    if epoch is None or not math.isfinite(epoch):
        return None
    return round(max(0.0, epoch - now), 3)


def quota_report(stats, policy: str) -> dict:
    """A ``ratelimits.ProviderStats`` as a JSON-safe dict.

    ``windows``: one entry per window of ``policy`` with ``used`` and ``limit`` (calls), ``seconds`` (the
    window's length) and ``next_reset`` (ISO UTC) / ``next_reset_in_seconds``. ``blocked_until`` is None both
    when not blocked and when blocked indefinitely (``blocked_indefinitely``). ``wait_seconds`` is the total
    time granted callers waited for their slots; ``violations`` counts provider push-backs.
    """
    now = stats.at
    until = stats.blocked_until
    return {
        "policy": policy,
        "windows": [
            {
                "window": w.text,
                "used": w.used,
                "limit": w.limit,
                "seconds": w.seconds,
                "next_reset": _instant(w.next_reset),
                "next_reset_in_seconds": _in(w.next_reset, now),
            }
            for w in stats.windows
        ],
        "blocked": until is not None,
        "blocked_until": _instant(until),
        "blocked_for_seconds": _in(until, now),
        "blocked_indefinitely": until is not None and math.isinf(until),
        "block_reason": stats.block_reason,
        "granted": stats.granted,
        "waited": stats.waited,
        "wait_seconds": round(stats.wait_seconds, 3),
        "refused": stats.refused,
        "violations": stats.violations,
        "at": _instant(now),
    }


def plan_report(day: str, recorded: Mapping, fits: bool, lines: list[str], universe: int,
                runs: Sequence[Mapping] = ()) -> dict:  # fmt: skip
    """The day's planner decisions (the ``tickerbeat:plan:<day>`` hash: field -> JSON summary) with each
    entry's ``coverage`` (admitted / planned, when both are recorded), the capacity plan's verdict, and
    the ledger of each of the day's runs (``runs``: plan records, ``monitoring.ledgers.record``).

    ``runs`` lists each run's record (planned, admitted, made, deferred_then_made, carried, stale, pending,
    adds_up, problems); ``dispatch`` sums them per provider; ``adds_up`` is False when any run's counts do
    not add up."""

    entries = {}
    for field, raw in sorted((_text(k), _text(v)) for k, v in recorded.items()):
        try:
            summary = json.loads(raw)
        except ValueError:
            summary = {"unreadable": raw[:200]}
        if isinstance(summary, dict) and summary.get("planned"):
            summary["coverage"] = round(summary.get("admitted", 0) / summary["planned"], 4)
        entries[field] = summary
    return {
        "day": day,
        "recorded": bool(entries),
        "entries": entries,
        "runs": [dict(r) for r in runs],
        "dispatch": by_provider(runs),
        "adds_up": all(r["adds_up"] for r in runs),
        "capacity": {"universe": universe, "fits": fits, "plan": lines},
    }


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def plan_day(today: date) -> str:
    """The trading day whose plan ``inspect plan`` shows by default: ``today`` (New York) if it is a
    session, else the session before it (the day the overnight entries work for)."""

    return (today if marketcal.is_trading_day(today) else marketcal.previous_trading_day(today)).isoformat()


def check_provider(name: str | None) -> str | None:
    """An error text for a name that is not a declared provider, else None."""
    if name in PROVIDERS:
        return None
    given = "no provider named" if not name else f"unknown provider {name!r}"
    return f"{given}: choose one of {', '.join(PROVIDERS)}"


# -- the commands -------------------------------------------------------------------------------------------


@inspect_command(default_timeout=5.0)
def quotas(state, **kwargs):
    """Quota usage per provider: windows (used/limit, next reset), block, waits, violations."""

    ctx = resources.current()
    out = {}
    for name in PROVIDERS:
        try:
            out[name] = quota_report(
                ctx.limiter.stats(name, ctx.policy(name)), ctx.settings.providers[name].quota
            )
        except QuotaError as exc:
            out[name] = {"error": str(exc)}
    return out


@inspect_command(default_timeout=5.0, signature="[YYYY-MM-DD]", args=[("day", str)])
def plan(state, day: str | None = None, **kwargs):
    """The day's runs (default: today, New York) with their ledgers, the planner's decisions, the capacity
    plan, and the first start's progress line (``bootstrap``)."""
    try:
        the_day = (
            date.fromisoformat(day).isoformat() if day else plan_day(datetime.now(marketcal.EASTERN).date())
        )
    except ValueError:
        return {"error": f"day must look like 2026-11-20, got {day!r}"}
    ctx = resources.current()
    universe = _universe(ctx)
    fits, lines = check(ctx.settings, universe)
    runs = [record(ledger) for ledger in day_ledgers(ctx.backlog, [the_day])]
    report = plan_report(the_day, ctx.redis.hgetall(keys.decisions(the_day)), fits, lines, universe, runs)
    # the first start's progress line (universe, history, tiers, model), as the bootstrap last wrote it
    report["bootstrap"] = _text(ctx.redis.hget(keys.BOOTSTRAP, "status") or b"") or None
    return report


def _universe(ctx) -> int:

    try:
        with ctx.db.session() as s:
            return len(active_symbols(s)) or DEFAULT_UNIVERSE
    except (SQLAlchemyError, StorageError):  # no schema yet: plan for the default universe
        return DEFAULT_UNIVERSE


@control_command(signature="<provider>", args=[("provider", str)])
def pause_provider(state, provider: str | None = None, **kwargs):
    """Stop every worker calling a provider (a Redis block) until resume_provider."""

    problem = check_provider(provider)
    if problem:
        return {"error": problem}
    try:
        resources.current().limiter.block(provider, math.inf, reason=PAUSE_REASON)
    except QuotaError as exc:
        return {"error": str(exc)}
    log.warning("provider %s paused by an operator", provider)
    return {"ok": f"{provider} paused for every worker until resume_provider {provider}"}


@control_command(signature="<provider>", args=[("provider", str)])
def resume_provider(state, provider: str | None = None, **kwargs):
    """Lift a provider's block (an operator pause or a throttle) for every worker."""

    problem = check_provider(provider)
    if problem:
        return {"error": problem}
    try:
        resources.current().limiter.unblock(provider)
    except QuotaError as exc:
        return {"error": str(exc)}
    log.warning("provider %s resumed by an operator", provider)
    return {"ok": f"{provider} resumed"}
