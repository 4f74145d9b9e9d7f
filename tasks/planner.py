"""Queue ``control``: the planner. Decides each run's calls, bulk endpoints first, within the quota.

Every decision becomes a run of the paced dispatcher (``tasks.runs.submit``): the admitted calls wait in
the provider's line and are let out as the quota comes due; nothing is parked as an ETA task.

- ``plan_refresh``: a quote sweep over some tiers, admitted against what the quota can serve in the run's
  window (its real shape, after the calls already in line); the rest is carried to the next sweep, first in
  line, and so is whatever the window ends on.
- ``plan_eod``: the whole market's official bars from Polygon's grouped daily (the day and the one
  before, for late corrections), first in line; ``after_eod`` then sends the symbols still missing to
  Yahoo, then to Alpha Vantage (a few a day), and marks whatever is left as served from cache (stale).
- ``plan_backfill``: two years of history, one grouped call per missing session, in one run that goes on
  at the quota's pace until done (never re-planned while open).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date, timedelta

import marketcal
from dispatch import RunSpec
from planning.admission import admit, oldest_first, priority_order
from planning.budget import budget_status, provider_cost
from ratelimits import capacity_within
from runtime import keys, resources
from storage import (
    active_symbols,
    days_with_bars,
    last_bar_days,
    mark_stale,
    symbols_missing_bar,
    tiers,
    usage_for,
)
from tasks import runs
from tasks.base import conservation_level, tickerbeat_task
from tasks.fetching import record_run_usage

log = logging.getLogger("tickerbeat.planner")

HISTORY_DAYS = 730  # the free Polygon plan's two years
# A session counts as backfilled when this share of the universe has a bar on it.
BACKFILL_COVERAGE = 0.5


def _capacity(provider: str, seconds: float, most: int) -> int:
    """Calls ``provider``'s quota can still serve in the next ``seconds`` (its real shape: bursts and
    refills), after the calls already waiting in its line or in flight; at most ``most``."""
    ctx = resources.current()
    policy = ctx.policy(provider)
    bookings, now = ctx.limiter.bookings(provider, policy)
    ahead = sum(ctx.backlog.depth(provider))
    free = capacity_within(
        policy, bookings, now, seconds, ctx.settings.quota_guard_seconds, most=most + ahead
    )
    return max(0, free - ahead)


def record_plan(day: str, what: str, summary: dict) -> dict:
    r = resources.current().redis
    r.hset(keys.decisions(day), what, json.dumps(summary, default=str))
    r.expire(keys.decisions(day), keys.DECISIONS_KEEP_SECONDS)
    return summary


# How each provider refreshes one symbol for ``day``: the fetch task and the arguments it shares.
REFRESH_TASKS = {
    "finnhub": ("tasks.finnhub.fetch_quote", lambda day: {"day": day}),
    "polygon": ("tasks.polygon.fetch_previous_close", lambda day: {"day": day}),
    "alphavantage": (
        "tasks.alphavantage.fetch_daily",
        lambda day: {"start": _days_before(day, 10), "end": day},
    ),
    "yahoo": ("tasks.yahoo.fetch_history", lambda day: {"start": _days_before(day, 10), "end": day}),
}


def _days_before(day: str, n: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()


def _run_id(kind: str, day: str, task_id: str | None) -> str:
    """Stable for one planning decision: a redelivered planner task (same id) admits nothing twice."""
    return f"{kind}:{day}:{(task_id or uuid.uuid4().hex)[:12]}"


@tickerbeat_task(name="tasks.planner.plan_refresh", expires=3600, bind=True)
def plan_refresh(
    self,
    tiers: list[int],
    day: str,
    provider: str = "finnhub",
    per_run: int | None = None,
    window_seconds: float = 50 * 60,
) -> dict:
    """Refresh ``tiers`` from ``provider`` on ``day``, as many symbols as its quota serves in the window.

    ``per_run`` rotates through the tiers (oldest data first) at most that many symbols a run. Symbols the
    quota cannot serve in the window, now or by the window's end, are carried to the provider's next run,
    first in line; the admitted ones are paced out by the dispatcher.
    """
    if provider not in REFRESH_TASKS:
        raise ValueError(f"no refresh task for provider {provider!r}; known: {', '.join(REFRESH_TASKS)}")
    ctx = resources.current()
    with ctx.db.session() as s:
        by_tier = {t: active_symbols(s, tier=t) for t in tiers}
        if per_run is not None:
            age = last_bar_days(s, [sym for t in tiers for sym in by_tier[t]])
            by_tier = {0: oldest_first(age, per_run)}
    carry = keys.carry(provider, "refresh")
    carried = runs.take_carried(carry)
    order = priority_order(by_tier, carried)
    decision = admit(order, _capacity(provider, window_seconds, len(order)))
    if decision.carried:
        ctx.redis.rpush(carry, *decision.carried)
        log.warning(
            "%s refresh %s: %d symbols carried to the next run (quota)", provider, day, len(decision.carried)
        )
    task, common = REFRESH_TASKS[provider]
    spec = RunSpec(_run_id(f"{provider}-refresh", day, self.request.id), provider, task, "symbol", day,
                   kind=f"{provider}.refresh", common=common(day), callback="tasks.analysis.analyse_run",
                   callback_kwargs={"day": day}, priority=1, deadline=ctx.backlog.now() + window_seconds,
                   on_expiry="carry", carry_to=carry, track_ok=True)  # fmt: skip
    runs.submit(spec, decision.admitted, planned=len(order))
    runs.clear_carried(carry, len(carried))
    summary = {"day": day, "tiers": tiers, "provider": provider, "planned": len(order), "run": spec.id,
               "admitted": len(decision.admitted), "carried": len(decision.carried)}  # fmt: skip
    return record_plan(day, f"{provider}:tiers={','.join(map(str, tiers))}", summary)


@tickerbeat_task(name="tasks.planner.plan_eod", expires=3 * 3600)
def plan_eod(day: str, window_seconds: float = 3 * 3600) -> dict:
    """Official bars for ``day`` and the session before it (corrections), first in Polygon's line; the
    fallbacks follow when both have settled (``after_eod``)."""
    previous = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    ctx = resources.current()
    spec = RunSpec(f"eod:{day}", "polygon", "tasks.polygon.fetch_grouped_daily", "day", day, kind="polygon.eod",
                   callback="tasks.planner.after_eod", callback_kwargs={"day": day}, priority=0,
                   deadline=ctx.backlog.now() + window_seconds, on_expiry="stale")  # fmt: skip
    runs.submit(spec, [day, previous])
    return record_plan(day, "eod", {"day": day, "grouped": [day, previous], "run": spec.id})


@tickerbeat_task(name="tasks.planner.after_eod", expires=3 * 3600)
def after_eod(run_id: str, day: str, window_seconds: float = 2 * 3600) -> dict:
    """Send the symbols still missing ``day``'s bar to Yahoo, then Alpha Vantage; mark the rest stale."""
    ctx = resources.current()
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ctx.backlog.ledger(run_id))
        missing = symbols_missing_bar(s, day)
        tier_of = tiers(s)
    missing.sort(key=lambda sym: (tier_of.get(sym, 4), sym))
    to_yahoo = admit(missing, _capacity("yahoo", window_seconds, len(missing)))
    to_av = admit(to_yahoo.carried, _capacity("alphavantage", window_seconds, len(to_yahoo.carried)))
    start = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    deadline = ctx.backlog.now() + window_seconds
    for provider, task, admitted in (("yahoo", "tasks.yahoo.fetch_history", to_yahoo.admitted),
                                     ("alphavantage", "tasks.alphavantage.fetch_daily", to_av.admitted)):  # fmt: skip
        spec = RunSpec(f"eod-{provider}:{day}", provider, task, "symbol", day, kind=f"{provider}.fallback",
                       common={"start": start, "end": day}, callback="tasks.analysis.analyse_run",
                       callback_kwargs={"day": day, "indicators": False, "stale_if_missing": True},
                       priority=0, deadline=deadline, on_expiry="stale", track_ok=True)  # fmt: skip
        runs.submit(spec, admitted)
    stale = to_av.carried
    if stale:
        _mark_stale(day, stale, "no provider could serve it within its quota")
    summary = {"day": day, "missing": len(missing), "yahoo": len(to_yahoo.admitted),
               "alphavantage": len(to_av.admitted), "stale": len(stale)}  # fmt: skip
    return record_plan(day, "eod-fallbacks", summary)


def _mark_stale(day: str, symbols, reason: str) -> None:
    with resources.current().db.session() as s, s.begin():
        mark_stale(s, [{"symbol": sym, "day": day, "reason": reason} for sym in symbols])


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


@tickerbeat_task(name="tasks.planner.plan_backfill", expires=3 * 3600, bind=True)
def plan_backfill(
    self, day: str, history_days: int = HISTORY_DAYS, window_seconds: float | None = None
) -> dict:
    """One grouped-daily call per session of the last two years that the universe mostly lacks, in one
    run that carries on across nights until done: while it is open, a new plan admits nothing."""
    ctx = resources.current()
    current = ctx.redis.get(keys.BACKFILL_RUN)
    ledger = ctx.backlog.ledger(current.decode()) if current else None
    if ledger is not None and not ledger.done:
        summary = {"day": day, "run": ledger.run_id, "resumed": True, "admitted": ledger.admitted,
                   "made": ledger.made, "pending": ledger.pending}  # fmt: skip
        return record_plan(day, "backfill", summary)
    with ctx.db.session() as s:
        sessions, total = missing_sessions(s, day, history_days)
    spec = RunSpec(_run_id("backfill", day, self.request.id), "polygon", "tasks.polygon.fetch_grouped_daily", "day",
                   day, kind="polygon.backfill", callback="tasks.planner.after_backfill", callback_kwargs={"day": day},
                   priority=2)  # fmt: skip
    if sessions:
        ctx.redis.set(keys.BACKFILL_RUN, spec.id)
    runs.submit(spec, sessions)
    summary = {"day": day, "run": spec.id, "sessions": total, "missing_sessions": len(sessions),
               "admitted": len(sessions), "carried": 0}  # fmt: skip
    return record_plan(day, "backfill", summary)


@tickerbeat_task(name="tasks.planner.after_backfill")
def after_backfill(run_id: str, day: str) -> dict:
    ctx = resources.current()
    ledger = ctx.backlog.ledger(run_id)
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ledger)
    runs.wake_bootstrap()
    return {"day": day, "run": run_id, "sessions": ledger.made if ledger else 0}


@tickerbeat_task(name="tasks.planner.check_budget", expires=3000)
def check_budget(day: str) -> dict:
    """Month-to-date cost and projection from recorded usage and the plans; sets conservation mode."""
    ctx = resources.current()
    today = date.fromisoformat(day)
    calls: dict[str, dict[date, int]] = {p: {} for p in ctx.settings.providers}
    with ctx.db.session() as s:
        for n in range(1, today.day + 1):
            d = today.replace(day=n)
            for provider, counts in usage_for(s, d).items():
                calls.setdefault(provider, {})[d] = counts.get("calls", 0)
    costs = [provider_cost(name, p.monthly_usd, p.included_calls, p.overage_usd_per_call, calls.get(name, {}), today)
             for name, p in ctx.settings.providers.items()]  # fmt: skip
    status = budget_status(costs, ctx.settings.monthly_budget_usd, ctx.settings.budget_warning_usd)
    previous = conservation_level()
    summary = {"day": day, "level": status.level, "active": status.active,
               "month_to_date_usd": round(status.month_to_date_usd, 2), "projection_usd": round(status.projection_usd, 2),
               "budget_usd": status.budget_usd, "warning_usd": status.warning_usd,
               "providers": {c.provider: round(c.projection_usd, 2) for c in costs}}  # fmt: skip
    ctx.redis.set(keys.CONSERVATION, json.dumps(summary))
    if status.level != previous:
        log.warning("conservation mode level %d -> %d: projection %.2f USD (warning %.2f, budget %.2f)",
                    previous, status.level, status.projection_usd, status.warning_usd, status.budget_usd)  # fmt: skip
    return record_plan(day, "budget", summary)
