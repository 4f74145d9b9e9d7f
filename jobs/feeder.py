"""The feeder's pass: let admitted calls out to the provider queues as the quota comes due.

One pass: what Redis may have lost is put back first (quota state from the journal, runs from their
durable record), then per provider (under a short Redis lock, so concurrent passes never release twice):

1. reclaim releases presumed lost (in flight longer than ``lost_after``): back to their place in line,
   or, for a key lost ``TICKERBEAT_MAX_REDRIVES`` times in its run, marked stale with that reason;
2. close the runs whose window ended: what is still in line is carried or marked stale;
3. release the calls the quota can grant within the horizon, less those already in flight (none while the
   database is held after failing to store answers: ``jobs.storing.database_hold``).

While anything is in line or in flight, the pass re-arms itself ``FEED_INTERVAL`` seconds later (one
chain: a Redis marker stops a second one); a planner's ``submit`` and beat's ``dispatch-feed`` entry
wake it. See docs/quotas.md ("Paced dispatch").
"""

from __future__ import annotations

import logging
import uuid

from celery import current_app
from sqlalchemy.exc import SQLAlchemyError

from dispatch import release_count
from jobs import redrive, runs
from jobs.quotas import check_quotas
from jobs.storing import database_hold
from monitoring import recording
from ratelimits import QuotaError
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


def feed_all(ctx, *, redrive_now: bool = False) -> dict[str, dict]:
    """A feeder pass over every provider (the open runs read once for all of them). First, what Redis may
    have lost: quota state not restored on the running server is restored from the journal
    (``jobs.quotas``), and runs it lost are admitted again (``jobs.redrive``: at most once a minute, or now
    with ``redrive_now``). Either failing (the database down) is logged and the pass goes on: a quota not
    restored grants nothing, and the durable runs wait for the next check."""
    _recover(ctx, redrive_now)
    open_runs = ctx.backlog.open_runs()
    return {p: feed_provider(ctx, p, [s for s in open_runs if s.provider == p]) for p in PROVIDERS}


def _recover(ctx, redrive_now: bool) -> None:
    try:
        check_quotas(ctx)
    except (QuotaError, SQLAlchemyError) as exc:
        log.error("quota state not checked against the journal: %s", exc)
    try:
        redrive.redrive(ctx) if redrive_now else redrive.redrive_due(ctx)
    except SQLAlchemyError as exc:
        log.error("durable runs not checked against Redis (%s: %s)", type(exc).__name__, exc)


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
        held = in_line and database_hold(ctx.redis)  # no release while the database cannot store answers
        released = _release(ctx, provider, in_line, in_flight) if in_line and not held else 0
        return {"in_line": in_line - released, "in_flight": in_flight + released, "released": released,
                "reclaimed": reclaimed}  # fmt: skip
    finally:
        if ctx.redis.get(lock) == token.encode():
            ctx.redis.delete(lock)


def _reclaim(ctx, provider: str, now: float) -> int:
    """Releases presumed lost go back in line, at most ``max_redrives`` times per key and run: a key lost
    that often is marked stale with that reason (its calls may be spending quota each time). Both counted
    (``monitoring.recording.REDRIVES_KEY``)."""
    most = ctx.settings.max_redrives
    reclaimed = ctx.backlog.reclaim(
        provider, now - ctx.settings.dispatch_lost_after_seconds, max_redrives=most
    )
    for release, settled in reclaimed:
        if settled.given_up:
            log.error("%s %s: %s; not released again", release.run_id, release.key, settled.why)
        runs.conclude(ctx, release, settled, settled.why or "its release was lost and its window had ended")
    requeued = sum(1 for _, s in reclaimed if s.what == "requeued")
    given_up = sum(1 for _, s in reclaimed if s.given_up)
    if reclaimed:
        log.warning("%s: %d releases presumed lost, %d back in line, %d given up", provider, len(reclaimed),
                    requeued, given_up)  # fmt: skip
        recording.record_counts(ctx.redis, recording.REDRIVES_KEY, provider,
                                {"requeued": requeued, "given_up": given_up})  # fmt: skip
    return len(reclaimed)


def _close_ended(ctx, open_runs, now: float) -> None:
    for spec in open_runs:
        if spec.deadline is not None and spec.deadline <= now:
            closed = ctx.backlog.close(spec)
            runs.expire(ctx, spec, closed.keys, "its window ended before the quota could serve it")
            if closed.complete:
                runs.fire(ctx, spec)


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
