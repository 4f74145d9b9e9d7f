"""Queue ``control``: the feeder, which lets admitted calls out to the provider queues as the quota comes due.

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
from runtime import resources
from runtime.queues import PROVIDERS
from tasks import runs
from tasks.base import tickerbeat_task

log = logging.getLogger("tickerbeat.dispatch")

# Seconds between feeder passes while work is pending: a fifth of the default horizon, so a slot is
# released well before it comes due.
FEED_INTERVAL = 4.0
LOCK_MS = 20_000


@tickerbeat_task(name="tasks.dispatch.feed", expires=60)
def feed(chain: bool = False) -> dict:
    """One feeder pass over every provider; re-arms while work is pending. Returns what it did."""
    ctx = resources.current()
    if chain:
        ctx.redis.delete(_chain_key())
    report = feed_all(ctx)
    if any(r.get("in_line") or r.get("in_flight") for r in report.values()):
        if ctx.redis.set(_chain_key(), "1", nx=True, ex=int(FEED_INTERVAL * 8)):
            feed.apply_async(kwargs={"chain": True}, countdown=FEED_INTERVAL)
    return report


def _chain_key() -> str:
    return f"{resources.current().backlog.prefix}:chain"


def feed_all(ctx) -> dict[str, dict]:
    """A feeder pass over every provider (the open runs read once for all of them)."""
    open_runs = ctx.backlog.open_runs()
    return {p: feed_provider(ctx, p, [s for s in open_runs if s.provider == p]) for p in PROVIDERS}


def feed_provider(ctx, provider: str, open_runs) -> dict:
    """Reclaim, close ended windows of ``open_runs`` (the provider's), release what is due."""
    backlog = ctx.backlog
    lock = f"{backlog.prefix}:{{{provider}}}:feeding"
    token = uuid.uuid4().hex
    if not ctx.redis.set(lock, token, nx=True, px=LOCK_MS):
        return {"busy": True}
    try:
        now = backlog.now()
        reclaimed = backlog.reclaim(provider, now - ctx.settings.dispatch_lost_after_seconds)
        for release, settled in reclaimed:
            runs.conclude(release, settled, "its release was lost and its window had ended")
        if reclaimed:
            log.warning("%s: %d releases presumed lost, back in line", provider, len(reclaimed))
        for spec in open_runs:
            if spec.deadline is not None and spec.deadline <= now:
                closed = backlog.close(spec)
                runs.expire(spec, closed.keys, "its window ended before the quota could serve it")
                if closed.complete:
                    runs.fire(spec)
        in_line, in_flight = backlog.depth(provider)
        released = 0
        if in_line:
            policy = ctx.policy(provider)
            bookings, now = ctx.limiter.bookings(provider, policy)
            n = release_count(policy, bookings, now, horizon=ctx.settings.dispatch_horizon_seconds,
                              guard=ctx.settings.quota_guard_seconds, in_line=in_line, in_flight=in_flight)  # fmt: skip
            released = _send(backlog, backlog.take(provider, n))
        return {"in_line": in_line - released, "in_flight": in_flight + released, "released": released,
                "reclaimed": len(reclaimed)}  # fmt: skip
    finally:
        if ctx.redis.get(lock) == token.encode():
            ctx.redis.delete(lock)


def _send(backlog, releases) -> int:
    specs = {}
    for release in releases:
        spec = specs.get(release.run_id) or specs.setdefault(release.run_id, backlog.spec(release.run_id))
        kwargs = {**spec.call_kwargs(release.key), "_dispatch": release.member}
        current_app.send_task(spec.task, kwargs=kwargs)
    return len(releases)
