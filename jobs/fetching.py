"""What every fetch task does around its provider call: hold a concurrency lease, call, store, summarise.

Expected provider failures come back as ``FetchResult`` values and become small status records, so the
call settles with its outcome; only bugs raise (the call is then counted stale). A busy pool or an
unreachable Redis (``QuotaUnavailable``) also becomes a status record with no call made: the dispatcher
puts the call back in its place in line.

Storing (``jobs.storing``) never lets the data fail the task: records the database cannot hold are that
symbol's bad data (refused, logged with the reason, counted in ``dropped``; an answer none of whose
records could be stored ends ``bad_data``). A database that fails operationally (connection lost, locked,
read-only) is not the data's fault: after its retries the summary says ``unavailable`` with the reason,
nothing of the answer is written, and the dispatcher puts the call back in line. The failure also sets a
hold (``jobs.storing.hold_database``): while it stands, fetch tasks make no provider call at all
(``unavailable``, back in line) and the feeder releases none, so a database that stays down does not spend
quota on answers it cannot keep. See docs/operations.md ("Bad data and an unavailable database").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

import ratelimits
from jobs.storing import DatabaseUnavailable, Stored, database_hold, hold_database
from monitoring import recording
from providers import FetchResult
from runtime.queues import BY_NAME

log = logging.getLogger("tickerbeat.fetch")

# Seconds a fetch task waits for a slot of its concurrency pool before deferring the call.
POOL_WAIT_SECONDS = 60.0


def run_fetch(
    ctx,
    provider: str,
    call: Callable[[object], FetchResult],
    store: Callable[[FetchResult], Stored],
    *,
    symbol: str | None = None,
) -> dict:
    """Call ``call(client)`` under the lease of the provider queue's pool (``runtime.queues``), store OK
    records with ``store``; return a summary. ``ctx``: the process's resources (pools, clients, Redis)."""
    held = database_hold(ctx.redis)
    if held:
        _count(ctx, recording.STORE_FAILURES_KEY, provider, held=1)
        return _no_call(provider, symbol, "unavailable", f"no call made: {held}")
    pool = BY_NAME[provider].pool
    try:
        if pool:
            with ctx.pool(pool).lease(timeout=POOL_WAIT_SECONDS):
                result = call(ctx.client(provider))
        else:
            result = call(ctx.client(provider))
    except ratelimits.PoolTimeout as exc:
        _count_call(ctx, provider, None, "deferred", None)
        return _no_call(provider, symbol, "deferred", f"pool {pool} busy: {exc}")
    except ratelimits.QuotaUnavailable as exc:
        log.error("%s: quota engine unreachable, no call made: %s", provider, exc)
        _count_call(ctx, provider, None, "unavailable", None)
        return _no_call(provider, symbol, "unavailable", str(exc))
    _count_call(ctx, provider, result.endpoint, result.outcome.value, result.elapsed)
    summary = result.summary()
    summary["stored"] = 0
    if result.ok and result.records:
        summary.update(_store(ctx, provider, result, store))
    if summary["outcome"] != "ok":
        log.info(
            "%s %s %s: %s (%s)",
            provider,
            result.endpoint,
            symbol or "",
            summary["outcome"],
            summary["message"],
        )
    return summary


def _store(ctx, provider: str, result: FetchResult, store: Callable[[FetchResult], Stored]) -> dict:
    """Store ``result``'s records: the summary fields that change (stored, dropped, and the outcome and
    message when nothing could be stored)."""
    try:
        stored = store(result)
    except DatabaseUnavailable as exc:
        log.error(
            "%s %s %s: %s; the call goes back in line", provider, result.endpoint, result.symbol or "", exc
        )
        hold_database(ctx.redis, str(exc))
        _count(ctx, recording.STORE_FAILURES_KEY, provider, retried=exc.retries, unavailable=1)
        return {"outcome": "unavailable", "message": str(exc)}
    refused = len(stored.refused)
    _count(ctx, recording.STORE_RECORDS_KEY, provider, stored=stored.written, refused=refused)
    _count(ctx, recording.STORE_FAILURES_KEY, provider, retried=stored.retries)
    fields: dict = {"stored": stored.written, "dropped": result.dropped + refused}
    if stored.bad_data:
        fields.update(outcome="bad_data", message=f"{result.provider} {result.endpoint}: {stored.reason()}")
    elif refused:
        fields["message"] = f"{result.message}; {stored.reason()}"
    return fields


def _count(ctx, key: str, provider: str, **counts: int) -> None:
    """Count store outcomes for the metrics exporter; a metrics write never fails the fetch."""
    try:
        recording.record_counts(ctx.redis, key, provider, counts)
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: %s store outcomes not counted (%s)", provider, exc)


def _count_call(ctx, provider: str, endpoint: str | None, outcome: str, seconds: float | None) -> None:
    """Count the call for the metrics exporter; a metrics write never fails the fetch."""
    try:
        recording.record_call(ctx.redis, provider, endpoint, outcome, seconds)
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: %s call not counted (%s)", provider, exc)


def _no_call(provider: str, symbol: str | None, outcome: str, message: str) -> dict:
    return {
        "provider": provider,
        "endpoint": None,
        "outcome": outcome,
        "symbol": symbol,
        "records": 0,
        "dropped": 0,
        "retry_at": None,
        "message": message,
        "http_status": None,
        "stored": 0,
    }
