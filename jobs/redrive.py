"""Runs Redis lost, submitted again from their durable record (``storage.runs``, written by
``jobs.runs.submit``).

``redrive`` looks at every open durable run:

- Redis holds it, done there, and its durable record is still open: its callback may never have been sent
  (the worker died between the two): it is fired again (callbacks are idempotent);
- Redis holds it otherwise: nothing to do, the dispatcher (or the callback's message) has it;
- Redis lacks it (it restarted without its data, or was flushed), whether open or fired (the callback's
  message went with Redis too): it is admitted again, with its original spec and deadline, for the keys
  whose data is not stored yet; with none left, its callback is sent at once. A quote fetched since the run
  was created, or the run day's bar for a fallback, shows a key served; history sessions count as served
  as the planner counts them. Other runs (the overnight grouped bars: two calls, corrections included;
  the listing: one call) are submitted whole. Skipping served keys spares the quota they would take
  again: on Alpha Vantage's 25/day that is the whole point. A re-driven run's ledger counts only what it
  admitted again; the calls made before Redis lost it are not in its usage row;
- a run older than ``ABANDON_AFTER`` is closed as abandoned, with an error in the log: its day is long
  over, and its keys were served or marked stale by the runs after it.

The feeder's pass calls ``redrive_due`` (at most once a minute, at once after Redis lost its data, since
the check's own marker went with it); the hourly watchdog calls ``redrive``.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from dispatch import RunSpec
from jobs import names, runs
from jobs.planner import BACKFILL_COVERAGE
from runtime import keys as redis_keys
from storage import active_symbols, days_with_bars, symbols_missing_bar
from storage.reads import quoted_since
from storage.runs import close_run, count_redrive, open_runs

log = logging.getLogger("tickerbeat.dispatch")

REDRIVE_CHECK_SECONDS = 60
ABANDON_AFTER = timedelta(days=8)  # the dispatcher keeps a finished run's ledger this long too
BAR_TASKS = frozenset({names.YAHOO_HISTORY, names.ALPHAVANTAGE_DAILY, names.POLYGON_PREVIOUS_CLOSE})


def redrive_due(ctx) -> dict | None:
    """``redrive`` if it did not run in the last ``REDRIVE_CHECK_SECONDS`` (a marker in Redis)."""
    if not ctx.redis.set(f"{ctx.backlog.prefix}:durable-check", "1", nx=True, ex=REDRIVE_CHECK_SECONDS):
        return None
    return redrive(ctx)


def redrive(ctx, now: datetime | None = None) -> dict:
    """Reconcile the durable open runs with Redis (see the module doc); returns the run ids per outcome."""
    now = now or datetime.now(UTC)
    with ctx.db.session() as s:
        durable = open_runs(s)
    out: dict[str, list[str]] = {"redriven": [], "refired": [], "abandoned": []}
    if not durable:
        return out
    pipe = ctx.redis.pipeline(transaction=False)
    for run in durable:
        pipe.hmget(ctx.backlog.run_key(run.id), "spec", "done")
    for run, (held, done) in zip(durable, pipe.execute(), strict=True):
        spec = RunSpec(**run.spec)
        if held is not None:
            if run.state == "open" and done in (b"1", "1"):
                runs.fire(ctx, spec)
                log.warning("run %s: done but its callback not recorded as sent: fired again", spec.id)
                out["refired"].append(spec.id)
            continue
        out[_again(ctx, spec, run, now)].append(spec.id)
    return out


def _again(ctx, spec: RunSpec, run, now: datetime) -> str:
    """Admit a run Redis lost once more (or abandon it); returns what was done."""
    reason = _abandon_reason(ctx, spec, run, now)
    if reason:
        with ctx.db.session() as s, s.begin():
            close_run(s, spec.id, "abandoned")
        log.error("run %s: lost from Redis and not submitted again: %s", spec.id, reason)
        return "abandoned"
    with ctx.db.session() as s, s.begin():
        left = remaining(s, spec, run.keys, run.created_at)
        count_redrive(s, spec.id)
    if spec.kind == "polygon.backfill":
        ctx.redis.set(redis_keys.BACKFILL_RUN, spec.id, nx=True)
    admitted = runs.admit(ctx, spec, left, planned=len(left))
    log.warning("run %s: lost from Redis, admitted again: %d of its %d keys (%d already served)%s",
                spec.id, len(left), len(run.keys), len(run.keys) - len(left),
                "" if admitted >= 0 else "; it was back in Redis already")  # fmt: skip
    return "redriven"


def _abandon_reason(ctx, spec: RunSpec, run, now: datetime) -> str | None:
    if now - run.created_at > ABANDON_AFTER:
        return f"created {run.created_at:%Y-%m-%d %H:%M} UTC, more than {ABANDON_AFTER.days} days ago"
    if spec.kind == "polygon.backfill":
        current = ctx.redis.get(redis_keys.BACKFILL_RUN)
        if current is not None and current.decode() != spec.id:
            return f"the history is carried on by run {current.decode()}"
    return None


def remaining(session, spec: RunSpec, keys: list[str], since: datetime) -> list[str]:
    """The keys of ``spec`` whose data is not stored yet, in their order (see the module doc)."""
    served: set[str] = set()
    if spec.key_arg == "symbol" and spec.task == names.FINNHUB_QUOTE:
        served = quoted_since(session, keys, since)
    elif spec.key_arg == "symbol" and spec.task in BAR_TASKS:
        served = set(keys) - set(symbols_missing_bar(session, spec.day))
    elif spec.kind == "polygon.backfill" and keys:
        days = sorted(date.fromisoformat(k) for k in keys)
        coverage = max(1, int(len(active_symbols(session)) * BACKFILL_COVERAGE))
        served = {d.isoformat() for d in days_with_bars(session, days[0], days[-1], min_symbols=coverage)}
    return [k for k in keys if k not in served]
