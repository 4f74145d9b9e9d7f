"""What operators read and change in Redis: each provider's quota, the day's plan and ledgers, pauses and
the first start's progress line.

One implementation for both ways of asking: the workers' ``celery inspect quotas|plan`` and ``celery
control pause_provider|resume_provider`` (``worker/control.py``, on the worker's own resources), and
``python -m stack.ops`` (``make quotas``, ``make pause P=…``), which reads and writes Redis directly and
so answers while no worker runs. Quotas, blocks, lines, ledgers and the planner's decisions all live in
Redis, so both see the same state and a pause written by either holds for every worker.

The functions taking ``ctx`` want a ``runtime.resources.Resources`` (its ``redis``, ``limiter``,
``backlog``, ``db``, ``settings`` and ``policy(name)``). Replies are JSON-safe (no infinities; instants as
ISO 8601 UTC text beside seconds-from-now).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

from redis.exceptions import RedisError

import marketcal
from monitoring import recording
from monitoring.ledgers import by_provider, day_ledgers, record
from ratelimits import QuotaError
from runtime import keys
from runtime.queues import PROVIDERS

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


def parse_day(day: str | None, now: datetime | None = None) -> str:
    """``day`` (``YYYY-MM-DD``) as ISO text, or by default ``plan_day`` of today in New York; ``ValueError``
    with the message to show for anything else."""
    if not day:
        return plan_day((now or datetime.now(UTC)).astimezone(marketcal.EASTERN).date())
    try:
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise ValueError(f"day must look like 2026-11-20, got {day!r}") from None


def check_provider(name: str | None) -> str | None:
    """An error text for a name that is not a declared provider, else None."""
    if name in PROVIDERS:
        return None
    given = "no provider named" if not name else f"unknown provider {name!r}"
    return f"{given}: choose one of {', '.join(PROVIDERS)}"


def is_pause(report: Mapping) -> bool:
    """True when a ``quota_report`` shows an operator's pause (not a throttle block)."""
    return bool(report.get("blocked")) and str(report.get("block_reason") or "").startswith(PAUSE_REASON)


# -- reading and writing Redis --------------------------------------------------------------------------------


def quotas(ctx, providers: Iterable[str] = PROVIDERS) -> dict[str, dict]:
    """``quota_report`` of each provider (``{"error": …}`` for one whose state cannot be read), with its
    ``redrives``: released calls presumed lost and put back in line (``requeued``) or marked stale after
    ``TICKERBEAT_MAX_REDRIVES`` losses (``given_up``), counted since Redis began keeping metrics."""
    out = {}
    names = list(providers)
    redrives = _redrives(ctx.redis, names)
    for name in names:
        try:
            out[name] = quota_report(
                ctx.limiter.stats(name, ctx.policy(name)), ctx.settings.providers[name].quota
            )
        except QuotaError as exc:
            out[name] = {"error": str(exc)}
            continue
        if redrives is not None:
            out[name]["redrives"] = {o: int(redrives[(name, o)]) for o in recording.REDRIVE_OUTCOMES}
    return out


def _redrives(r, providers: list[str]) -> dict[tuple[str, str], float] | None:
    """The re-drive counters (``monitoring.recording.REDRIVES_KEY``), or None when Redis cannot be read
    (the quota reports then say why)."""
    try:
        raw = r.hgetall(recording.REDRIVES_KEY)
    except (RedisError, OSError):
        return None
    return recording.served_counts(raw, providers, recording.REDRIVE_OUTCOMES)


def pauses(ctx) -> dict[str, dict]:
    """The providers blocked now, each with its block: ``blocked_until`` / ``blocked_for_seconds`` (None
    when indefinite), ``blocked_indefinitely``, ``block_reason`` and ``paused`` (an operator's pause, as
    opposed to a provider's throttle answer)."""
    fields = ("blocked_until", "blocked_for_seconds", "blocked_indefinitely", "block_reason")
    out = {}
    for name, report in quotas(ctx).items():
        if "error" in report:
            out[name] = report
        elif report["blocked"]:
            out[name] = {**{k: report[k] for k in fields}, "paused": is_pause(report)}
    return out


def pause(ctx, provider: str | None, reason: str | None = None) -> dict:
    """Stop every worker calling ``provider`` until ``resume``: an indefinite block in Redis, reason
    ``paused by operator`` (``: <reason>`` when given). ``{"ok": …}`` or ``{"error": …}``."""
    problem = check_provider(provider)
    if problem:
        return {"error": problem}
    text = f"{PAUSE_REASON}: {reason.strip()}" if reason and reason.strip() else PAUSE_REASON
    try:
        ctx.limiter.block(provider, math.inf, reason=text)
    except QuotaError as exc:
        return {"error": str(exc)}
    return {"ok": f"{provider} paused for every worker until resumed (make resume P={provider}, or celery -A "
                  f"worker control resume_provider {provider})"}  # fmt: skip


def resume(ctx, provider: str | None) -> dict:
    """Lift ``provider``'s block (an operator's pause or a throttle) for every worker."""
    problem = check_provider(provider)
    if problem:
        return {"error": problem}
    try:
        ctx.limiter.unblock(provider)
    except QuotaError as exc:
        return {"error": str(exc)}
    return {"ok": f"{provider} resumed"}


def bootstrap_status(ctx) -> str | None:
    """The first start's progress line as the bootstrap last wrote it, or None before its first pass."""
    return _text(ctx.redis.hget(keys.BOOTSTRAP, "status") or b"") or None


def plan(ctx, day: str) -> dict:
    """``plan_report`` of ``day`` (ISO text): its runs' ledgers, the planner's decisions, the capacity plan
    for the universe, and the first start's progress line (``bootstrap``)."""
    from planning.fit import check

    n = universe(ctx)
    fits, lines = check(ctx.settings, n)
    runs = [record(ledger) for ledger in day_ledgers(ctx.backlog, [day])]
    report = plan_report(day, ctx.redis.hgetall(keys.decisions(day)), fits, lines, n, runs)
    report["bootstrap"] = bootstrap_status(ctx)
    return report


def universe(ctx) -> int:
    """Active symbols in the database, or ``DEFAULT_UNIVERSE`` while it has none (no schema, no file: an
    SQLite file that does not exist is not created by asking)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import StorageError, active_symbols
    from storage.engine import parse_url, sqlite_path

    try:
        path = sqlite_path(parse_url(ctx.settings.database_url))
        if path is not None and not path.exists():
            return DEFAULT_UNIVERSE
        with ctx.db.session() as s:
            return len(active_symbols(s)) or DEFAULT_UNIVERSE
    except (SQLAlchemyError, StorageError):  # no schema yet: plan for the default universe
        return DEFAULT_UNIVERSE
