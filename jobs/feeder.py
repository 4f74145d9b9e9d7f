"""The feeder's pass: let admitted calls out to the provider queues as the quota comes due.

One pass, per provider (under a short Redis lock, so concurrent passes never release twice):

1. reclaim releases presumed lost (in flight longer than ``lost_after``): back to their place in line;
2. close the runs whose window ended: what is still in line is carried or marked stale;
3. release the calls the quota can grant within the horizon, less those already in flight.

While anything is in line or in flight, the pass re-arms itself ``FEED_INTERVAL`` seconds later (one
chain: a Redis marker stops a second one); a planner's ``submit`` and beat's ``dispatch-feed`` entry
wake it. See docs/quotas.md ("Paced dispatch").
"""

from __future__ import annotations

import logging
import uuid

from celery import current_app

from dispatch import release_count
from jobs import runs
from runtime.queues import PROVIDERS

log = logging.getLogger("tickerbeat.dispatch")

# Seconds between feeder passes while work is pending: a fifth of the default horizon, so a slot is
# released well before it comes due.
FEED_INTERVAL = 4.0
LOCK_MS = 20_000


def feed(ctx, chained: bool) -> tuple[dict[str, dict], bool]:
    """One pass over every provider; (what it did, whether the caller should re-arm the chain now).
    ``chained``: this pass is the chain's own (its marker is dropped first, so it can re-arm)."""
    chain_key = f"{ctx.backlog.prefix}:chain"
    if chained:
        ctx.redis.delete(chain_key)
    report = feed_all(ctx)
    pending = any(r.get("in_line") or r.get("in_flight") for r in report.values())
    return report, pending and bool(ctx.redis.set(chain_key, "1", nx=True, ex=int(FEED_INTERVAL * 8)))


def feed_all(ctx) -> dict[str, dict]:
    """A feeder pass over every provider (the open runs read once for all of them)."""
    open_runs = ctx.backlog.open_runs()
    return {p: feed_provider(ctx, p, [s for s in open_runs if s.provider == p]) for p in PROVIDERS}


def feed_provider(ctx, provider: str, open_runs) -> dict:
    """Reclaim, close ended windows of ``open_runs`` (the provider's), release what is due."""
    lock = f"{ctx.backlog.prefix}:{{{provider}}}:feeding"
    token = uuid.uuid4().hex
    if not ctx.redis.set(lock, token, nx=True, px=LOCK_MS):
        return {"busy": True}
    try:
        now = ctx.backlog.now()
        reclaimed = _reclaim(ctx, provider, now)
        _close_ended(ctx, open_runs, now)
        in_line, in_flight = ctx.backlog.depth(provider)
        released = _release(ctx, provider, in_line, in_flight) if in_line else 0
        return {"in_line": in_line - released, "in_flight": in_flight + released, "released": released,
                "reclaimed": reclaimed}  # fmt: skip
    finally:
        if ctx.redis.get(lock) == token.encode():
            ctx.redis.delete(lock)


def _reclaim(ctx, provider: str, now: float) -> int:
    reclaimed = ctx.backlog.reclaim(provider, now - ctx.settings.dispatch_lost_after_seconds)
    for release, settled in reclaimed:
        runs.conclude(ctx, release, settled, "its release was lost and its window had ended")
    if reclaimed:
        log.warning("%s: %d releases presumed lost, back in line", provider, len(reclaimed))
    return len(reclaimed)


def _close_ended(ctx, open_runs, now: float) -> None:
    for spec in open_runs:
        if spec.deadline is not None and spec.deadline <= now:
            closed = ctx.backlog.close(spec)
            runs.expire(ctx, spec, closed.keys, "its window ended before the quota could serve it")
            if closed.complete:
                runs.fire(spec)


def _release(ctx, provider: str, in_line: int, in_flight: int) -> int:
    """Let out what the quota grants within the horizon; each call goes to its run's task by name."""
    policy = ctx.policy(provider)
    bookings, now = ctx.limiter.bookings(provider, policy)
    n = release_count(policy, bookings, now, horizon=ctx.settings.dispatch_horizon_seconds,
                      guard=ctx.settings.quota_guard_seconds, in_line=in_line, in_flight=in_flight)  # fmt: skip
    releases = ctx.backlog.take(provider, n)
    specs: dict = {}
    for release in releases:
        spec = specs.get(release.run_id) or specs.setdefault(release.run_id, ctx.backlog.spec(release.run_id))
        current_app.send_task(
            spec.task, kwargs={**spec.call_kwargs(release.key), "_dispatch": release.member}
        )
    return len(releases)
