"""The planner's jobs: each planning decision becomes a run of the paced dispatcher (``jobs.runs.submit``).

- ``plan_refresh``: a quote sweep over some tiers, admitted against what the quota can serve in the run's
  window (its real shape, after the calls already in line); the rest is carried to the next sweep, first in
  line, and so is whatever the window ends on.
- ``plan_eod``: the whole market's official bars from Polygon's grouped daily (the day and the one
  before, for late corrections), first in line; ``after_eod`` then sends the symbols still missing to
  Yahoo, then to Alpha Vantage (a few a day), and marks whatever is left as served from cache (stale).
- ``plan_backfill``: two years of history, one grouped call per missing session, in one run that goes on
  at the quota's pace until done (never re-planned while open).
- ``check_budget``: the month's cost projection, which sets conservation mode.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import marketcal
from dispatch import RunSpec
from jobs import names, runs
from planning.admission import admit, by_tier, cascade, oldest_first, priority_order
from planning.budget import budget_record, budget_status, month_calls, provider_cost
from ratelimits import capacity_within
from runtime import keys
from storage import (
    active_symbols,
    days_with_bars,
    last_bar_days,
    mark_stale,
    symbols_missing_bar,
    usage_for,
)
from storage import tiers as stored_tiers
from storage.runs import close_run
from storage.usage import set_run_usage

log = logging.getLogger("tickerbeat.planner")

HISTORY_DAYS = 730  # the free Polygon plan's two years
# A session counts as backfilled when this share of the universe has a bar on it.
BACKFILL_COVERAGE = 0.5

# How each provider refreshes one symbol for ``day``: the fetch task and the arguments it shares.
REFRESH_TASKS = {
    "finnhub": (names.FINNHUB_QUOTE, lambda day: {"day": day}),
    "polygon": (names.POLYGON_PREVIOUS_CLOSE, lambda day: {"day": day}),
    "alphavantage": (names.ALPHAVANTAGE_DAILY, lambda day: {"start": _days_before(day, 10), "end": day}),
    "yahoo": (names.YAHOO_HISTORY, lambda day: {"start": _days_before(day, 10), "end": day}),
}


def _days_before(day: str, n: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()


def capacity(ctx, provider: str, seconds: float, most: int) -> int:
    """Calls ``provider``'s quota can still serve in the next ``seconds`` (its real shape: bursts and
    refills), after the calls already waiting in its line or in flight; at most ``most``."""
    policy = ctx.policy(provider)
    bookings, now = ctx.limiter.bookings(provider, policy)
    ahead = sum(ctx.backlog.depth(provider))
    free = capacity_within(
        policy, bookings, now, seconds, ctx.settings.quota_guard_seconds, most=most + ahead
    )
    return max(0, free - ahead)


def record_plan(redis, day: str, what: str, summary: dict) -> dict:
    """Keep ``summary`` as the day's decision ``what`` (``make status``/``stack.ops plan`` read it)."""
    redis.hset(keys.decisions(day), what, json.dumps(summary, default=str))
    redis.expire(keys.decisions(day), keys.DECISIONS_KEEP_SECONDS)
    return summary


def record_run_usage(session, ledger) -> None:
    """Set a finished run's outcomes (``dispatch.Ledger``; None: nothing) as the run's row of ``api_usage``
    for its day: a callback that runs again counts nothing twice. Every run's callback does this first,
    so it also closes the run's durable record (``done``: nothing more to re-drive if Redis loses it)."""
    if ledger is not None:
        set_run_usage(session, ledger.run_id, ledger.provider, ledger.day, **ledger.usage())
        close_run(session, ledger.run_id)


def stored_conservation_level(redis) -> int:
    """The level the last budget check stored (0 when none ran)."""
    raw = redis.get(keys.CONSERVATION)
    return int(json.loads(raw).get("level", 0)) if raw else 0


def plan_refresh(ctx, run_id: str, tiers: list[int], day: str, provider: str, per_run: int | None,
                 window_seconds: float) -> dict:  # fmt: skip
    """Refresh ``tiers`` from ``provider`` on ``day``, as many symbols as its quota serves in the window.

    ``per_run`` rotates through the tiers (oldest data first) at most that many symbols a run. Symbols the
    quota cannot serve in the window, now or by the window's end, are carried to the provider's next run,
    first in line; the admitted ones are paced out by the dispatcher.
    """
    if provider not in REFRESH_TASKS:
        raise ValueError(f"no refresh task for provider {provider!r}; known: {', '.join(REFRESH_TASKS)}")
    with ctx.db.session() as s:
        symbols = {t: active_symbols(s, tier=t) for t in tiers}
        if per_run is not None:
            symbols = {0: oldest_first(last_bar_days(s, [sym for t in tiers for sym in symbols[t]]), per_run)}
    carry = keys.carry(provider, "refresh")
    carried = runs.take_carried(ctx.redis, carry)
    order = priority_order(symbols, carried)
    decision = admit(order, capacity(ctx, provider, window_seconds, len(order)))
    if decision.carried:
        ctx.redis.rpush(carry, *decision.carried)
        log.warning(
            "%s refresh %s: %d symbols carried to the next run (quota)", provider, day, len(decision.carried)
        )
    task, common = REFRESH_TASKS[provider]
    spec = RunSpec(run_id, provider, task, "symbol", day, kind=f"{provider}.refresh", common=common(day),
                   callback=names.ANALYSE_RUN, callback_kwargs={"day": day}, priority=1,
                   deadline=ctx.backlog.now() + window_seconds, on_expiry="carry", carry_to=carry, track_ok=True)  # fmt: skip
    runs.submit(ctx, spec, decision.admitted, planned=len(order))
    runs.clear_carried(ctx.redis, carry, len(carried))
    summary = {"day": day, "tiers": tiers, "provider": provider, "planned": len(order), "run": spec.id,
               "admitted": len(decision.admitted), "carried": len(decision.carried)}  # fmt: skip
    return record_plan(ctx.redis, day, f"{provider}:tiers={','.join(map(str, tiers))}", summary)


def plan_eod(ctx, day: str, window_seconds: float) -> dict:
    """Official bars for ``day`` and the session before it (corrections), first in Polygon's line; the
    fallbacks follow when both have settled (``after_eod``)."""
    previous = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    spec = RunSpec(f"eod:{day}", "polygon", names.POLYGON_GROUPED_DAILY, "day", day, kind="polygon.eod",
                   callback=names.AFTER_EOD, callback_kwargs={"day": day}, priority=0,
                   deadline=ctx.backlog.now() + window_seconds, on_expiry="stale")  # fmt: skip
    runs.submit(ctx, spec, [day, previous])
    return record_plan(ctx.redis, day, "eod", {"day": day, "grouped": [day, previous], "run": spec.id})


def after_eod(ctx, run_id: str, day: str, window_seconds: float) -> dict:
    """Send the symbols still missing ``day``'s bar to Yahoo, then Alpha Vantage; mark the rest stale."""
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ctx.backlog.ledger(run_id))
        missing = by_tier(symbols_missing_bar(s, day), stored_tiers(s))
    capacities = [capacity(ctx, p, window_seconds, len(missing)) for p in ("yahoo", "alphavantage")]
    (to_yahoo, to_av), stale = cascade(missing, capacities)
    start = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    deadline = ctx.backlog.now() + window_seconds
    for provider, task, admitted in (("yahoo", names.YAHOO_HISTORY, to_yahoo),
                                     ("alphavantage", names.ALPHAVANTAGE_DAILY, to_av)):  # fmt: skip
        spec = RunSpec(f"eod-{provider}:{day}", provider, task, "symbol", day, kind=f"{provider}.fallback",
                       common={"start": start, "end": day}, callback=names.ANALYSE_RUN,
                       callback_kwargs={"day": day, "indicators": False, "stale_if_missing": True},
                       priority=0, deadline=deadline, on_expiry="stale", track_ok=True)  # fmt: skip
        runs.submit(ctx, spec, admitted)
    if stale:
        with ctx.db.session() as s, s.begin():
            reason = "no provider could serve it within its quota"
            mark_stale(s, [{"symbol": sym, "day": day, "reason": reason} for sym in stale])
    summary = {"day": day, "missing": len(missing), "yahoo": len(to_yahoo), "alphavantage": len(to_av),
               "stale": len(stale)}  # fmt: skip
    return record_plan(ctx.redis, day, "eod-fallbacks", summary)


def missing_sessions(session, day: str, history_days: int = HISTORY_DAYS) -> tuple[list[str], int]:
    """(sessions of the last ``history_days`` that the universe mostly lacks, newest first; all sessions)."""
    end = date.fromisoformat(day)
    start = end - timedelta(days=history_days)
    universe = len(active_symbols(session))
    have = set(days_with_bars(session, start, end, min_symbols=max(1, int(universe * BACKFILL_COVERAGE))))
    # Polygon refuses data older than two years: keep a day's margin inside the limit.
    sessions = marketcal.trading_days(start + timedelta(days=1), end)
    missing = sorted((d for d in sessions if d not in have), reverse=True)  # the recent past matters most
    return [d.isoformat() for d in missing], len(sessions)


def plan_backfill(ctx, run_id: str, day: str, history_days: int) -> dict:
    """One grouped-daily call per session of the last ``history_days`` that the universe mostly lacks, in
    one run that carries on across nights until done: while it is open, a new plan admits nothing."""
    current = ctx.redis.get(keys.BACKFILL_RUN)
    ledger = ctx.backlog.ledger(current.decode()) if current else None
    if ledger is not None and not ledger.done:
        summary = {"day": day, "run": ledger.run_id, "resumed": True, "admitted": ledger.admitted,
                   "made": ledger.made, "pending": ledger.pending}  # fmt: skip
        return record_plan(ctx.redis, day, "backfill", summary)
    with ctx.db.session() as s:
        sessions, total = missing_sessions(s, day, history_days)
    spec = RunSpec(run_id, "polygon", names.POLYGON_GROUPED_DAILY, "day", day, kind="polygon.backfill",
                   callback=names.AFTER_BACKFILL, callback_kwargs={"day": day}, priority=2)  # fmt: skip
    if sessions:
        ctx.redis.set(keys.BACKFILL_RUN, spec.id)
    runs.submit(ctx, spec, sessions)
    summary = {"day": day, "run": spec.id, "sessions": total, "missing_sessions": len(sessions),
               "admitted": len(sessions), "carried": 0}  # fmt: skip
    return record_plan(ctx.redis, day, "backfill", summary)


def after_backfill(ctx, run_id: str, day: str) -> dict:
    """The history run is complete: its usage is recorded and the first start takes its next step."""
    ledger = ctx.backlog.ledger(run_id)
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ledger)
    runs.wake_bootstrap()
    return {"day": day, "run": run_id, "sessions": ledger.made if ledger else 0}


def check_budget(ctx, day: str) -> dict:
    """Month-to-date cost and projection from recorded usage and the plans; sets conservation mode."""
    today = date.fromisoformat(day)
    with ctx.db.session() as s:
        calls = month_calls(
            {d: usage_for(s, d) for d in (today.replace(day=n) for n in range(1, today.day + 1))}
        )
    providers = ctx.settings.providers
    costs = [provider_cost(name, p.monthly_usd, p.included_calls, p.overage_usd_per_call, calls.get(name, {}), today)
             for name, p in providers.items()]  # fmt: skip
    status = budget_status(costs, ctx.settings.monthly_budget_usd, ctx.settings.budget_warning_usd)
    previous = stored_conservation_level(ctx.redis)
    summary = budget_record(day, status, costs)
    ctx.redis.set(keys.CONSERVATION, json.dumps(summary))
    if status.level != previous:
        log.warning("conservation mode level %d -> %d: projection %.2f USD (warning %.2f, budget %.2f)",
                    previous, status.level, status.projection_usd, status.warning_usd, status.budget_usd)  # fmt: skip
    return record_plan(ctx.redis, day, "budget", summary)
