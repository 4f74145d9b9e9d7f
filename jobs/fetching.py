"""What every fetch task does around its provider call: hold a concurrency lease, call, summarise.

Expected provider failures come back as ``FetchResult`` values and become small status records, so the
call settles with its outcome; only bugs raise (the call is then counted stale). A busy pool or an
unreachable Redis (``QuotaUnavailable``) also becomes a status record with no call made: the dispatcher
puts the call back in its place in line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

import ratelimits
from monitoring.recording import record_call
from providers import FetchResult
from runtime.queues import BY_NAME
from storage import add_api_usage

log = logging.getLogger("tickerbeat.fetch")

# Seconds a fetch task waits for a slot of its concurrency pool before deferring the call.
POOL_WAIT_SECONDS = 60.0


def run_fetch(
    ctx,
    provider: str,
    call: Callable[[object], FetchResult],
    store: Callable[[FetchResult], int],
    *,
    symbol: str | None = None,
) -> dict:
    """Call ``call(client)`` under the lease of the provider queue's pool (``runtime.queues``), store OK
    records with ``store``; return a summary. ``ctx``: the process's resources (pools, clients, Redis)."""
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
    stored = store(result) if result.ok and result.records else 0
    summary = result.summary()
    summary["stored"] = stored
    if not result.ok:
        log.info(
            "%s %s %s: %s (%s)", provider, result.endpoint, symbol or "", result.outcome.value, result.message
        )
    return summary


def _count_call(ctx, provider: str, endpoint: str | None, outcome: str, seconds: float | None) -> None:
    """Count the call for the metrics exporter; a metrics write never fails the fetch."""
    try:
        record_call(ctx.redis, provider, endpoint, outcome, seconds)
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


def record_run_usage(session, ledger) -> None:
    """Add a finished run's outcomes (``dispatch.Ledger``; None: nothing) to ``api_usage`` for its day."""
    if ledger is not None:
        add_api_usage(session, ledger.provider, ledger.day, **ledger.usage())
