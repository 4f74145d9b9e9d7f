"""Runs of provider calls through the paced dispatcher (``dispatch/``), as the jobs use them.

- ``submit``: keep the run in the database (``storage.runs``: what Redis loses, ``jobs.redrive`` submits
  again), admit its keys and wake the feeder (``tasks.dispatch.feed``), which lets them out to the
  provider's queue as the quota comes due.
- ``call_dispatched``: what the task wrapper does around one released call: make it only while its release
  holds, then settle it exactly once (made, or back in line when deferred).
- ``conclude``: what follows a settle or a closed window: carried keys go to the next run's line, stale
  keys get a stale mark with the reason, a complete run fires its callback once (``fire``), and its
  durable record says so (closed when the callback has run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from celery import current_app

from dispatch import Release, RunSpec
from jobs import names
from storage import mark_stale
from storage.runs import close_run, record_run

log = logging.getLogger("tickerbeat.dispatch")

# Outcomes of a fetch that made no provider call: the call goes back to its place in line.
BACK_IN_LINE = frozenset({"deferred", "unavailable"})
CARRY_SECONDS = 7 * 86400


def submit(ctx, spec: RunSpec, keys: Sequence[str], planned: int | None = None) -> int:
    """Keep run ``spec`` in the database first (so Redis cannot lose it unseen), then admit ``keys``
    (nothing if the run exists) and wake the feeder; returns the count admitted (-1: it existed)."""
    keys = list(keys)
    with ctx.db.session() as s, s.begin():
        record_run(s, json.loads(spec.to_json()), keys, len(keys) if planned is None else planned)
    return admit(ctx, spec, keys, planned)


def admit(ctx, spec: RunSpec, keys: list[str], planned: int | None = None) -> int:
    """Admit ``keys`` as run ``spec`` in Redis (nothing if the run exists there) and wake the feeder, or
    fire the callback of a run with nothing to call."""
    n = ctx.backlog.submit(spec, keys, planned)
    if n == 0:  # nothing to call: the run is complete at once
        fire(ctx, spec)
    elif n > 0:
        kick()
    return n


def kick() -> None:
    """Wake the feeder now (it re-arms itself while work is pending)."""
    current_app.send_task(names.FEED)


def wake_bootstrap() -> None:
    """Let the first-start bootstrap take its next step now rather than at its next beat tick."""
    current_app.send_task(names.BOOTSTRAP)


def fire(ctx, spec: RunSpec) -> None:
    """Send the run's callback (once per run: callers hold the ``done`` transition) and mark its durable
    record ``fired`` (``done`` without a callback; the callback marks it done when it records the run's
    usage: ``jobs.planner.record_run_usage``). Should the mark fail, the watchdog finds the run done in
    Redis and fires again: callbacks are idempotent."""
    if spec.callback:
        current_app.send_task(spec.callback, kwargs={**spec.callback_kwargs, "run_id": spec.id})
    with ctx.db.session() as s, s.begin():
        close_run(s, spec.id, "fired" if spec.callback else "done")


def call_dispatched(ctx, provider: str, member: str, run: Callable[[], object]) -> object:
    """Make one released call (``run``) and settle it. A release no longer in flight (settled, or reclaimed
    as lost) makes no call: its result says ``superseded``."""
    backlog = ctx.backlog
    release = Release(member)
    if not backlog.holds(provider, release):
        log.info("%s %s: release superseded, no call made", provider, release.key)
        return {"provider": provider, "outcome": "superseded", "symbol": release.key, "stored": 0}
    try:
        result = run()
    except Exception:
        conclude(ctx, release, backlog.settle(provider, release, "failed"), "the task failed")
        raise
    outcome = result.get("outcome", "ok") if isinstance(result, dict) else "ok"
    what = "deferred" if outcome in BACK_IN_LINE else "made"
    conclude(
        ctx, release, backlog.settle(provider, release, what, outcome), f"{outcome} after its window ended"
    )
    return result


def conclude(ctx, release: Release, settled, reason: str) -> None:
    """Carry, mark stale or fire the callback after ``settled`` (a ``dispatch.Settled``)."""
    if settled.what in ("carried", "stale") or settled.complete:
        spec = ctx.backlog.spec(release.run_id)
        if spec is None:
            return
        if settled.what in ("carried", "stale"):
            expire(ctx, spec, [release.key], reason, settled.what)
        if settled.complete:
            fire(ctx, spec)


def expire(ctx, spec: RunSpec, keys: Sequence[str], reason: str, what: str | None = None) -> None:
    """Keys ``spec`` could not serve: ``what`` (default the run's ``on_expiry``) says ``carried`` (to its
    ``carry_to`` line) or ``stale`` (marked with ``reason``), as the ledger counted them."""
    if not keys:
        return
    what = what or ("carried" if spec.on_expiry == "carry" else "stale")
    if what == "carried" and spec.carry_to:
        pipe = ctx.redis.pipeline()
        pipe.rpush(spec.carry_to, *keys)
        pipe.expire(spec.carry_to, CARRY_SECONDS)
        pipe.execute()
        log.warning("%s: %d calls carried to the next run (%s)", spec.id, len(keys), reason)
    elif spec.key_arg == "symbol":
        with ctx.db.session() as s, s.begin():
            mark_stale(s, [{"symbol": k, "day": spec.day, "reason": f"{spec.kind}: {reason}"} for k in keys])
        log.warning("%s: %d symbols marked stale (%s)", spec.id, len(keys), reason)
    else:
        log.warning("%s: %d calls not made: %s", spec.id, len(keys), reason)


def take_carried(redis, key: str) -> list[str]:
    """The keys carried to ``key``'s next run, oldest first (left in place until ``clear_carried``)."""
    return [k.decode() if isinstance(k, bytes) else k for k in redis.lrange(key, 0, -1)]


def clear_carried(redis, key: str, count: int) -> None:
    """Drop the first ``count`` carried keys (after the run that took them was admitted)."""
    if count:
        redis.ltrim(key, count, -1)
