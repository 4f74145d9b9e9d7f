"""What a task does when its time runs out (the per-queue limits of ``runtime.queues``).

- Soft limit, provider call: ``SoftTimeLimitExceeded`` interrupts the call wherever it waits; the call
  ends as outcome ``timeout``, counted like any call's outcome, so a dispatched call settles as made (it may
  have reached the provider) and its run's ledger adds up.
- Soft limit, any other task: the exception propagates (a beat slot is marked failed with it, the task
  counts as a failure).
- Hard limit: the worker kills the process; its main process gives the message up (``jobs.dead_letters
  .abandon``: a dispatched call settled as failed, a beat slot marked failed).
"""

from __future__ import annotations

import logging

import redis

from monitoring.recording import record_call
from providers import Outcome

log = logging.getLogger("tickerbeat.fetch")

TIMEOUT = Outcome.TIMEOUT.value


def out_of_time(ctx, provider: str, kwargs: dict, seconds: float | None) -> dict:
    """The summary of a provider call cut off by the soft time limit (``seconds``), counted as ``timeout``."""
    message = f"{provider}: the task's soft time limit ({seconds or 0:g} s) ended the call"
    log.warning("%s %s: %s", provider, kwargs.get("symbol") or kwargs.get("day") or "", message)
    try:
        record_call(ctx.redis, provider, None, TIMEOUT, None)
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: %s call not counted (%s)", provider, exc)
    return {"provider": provider, "endpoint": None, "outcome": TIMEOUT, "symbol": kwargs.get("symbol"),
            "records": 0, "dropped": 0, "retry_at": None, "message": message, "http_status": None,
            "stored": 0}  # fmt: skip
