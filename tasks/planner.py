"""Queue ``control``: the planner. Decides each run's calls, bulk endpoints first, within the quota.

- ``plan_quotes``: a Finnhub quote sweep over some tiers, admitted against what the quota can still
  serve in the run's window; the rest is carried to the next sweep (tier order), never parked as ETAs.
- ``plan_eod``: the whole market's official bars from Polygon's grouped daily (the day and the one
  before, for late corrections); ``after_eod`` then sends the symbols still missing to Yahoo, then to
  Alpha Vantage (a few a day), and marks whatever is left as served from cache (stale).
- ``plan_backfill``: two years of history, one grouped call per missing session, as the quota allows.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

from celery import chord

import marketcal
from planning.admission import admit, priority_order, remaining_calls
from storage import active_symbols, days_with_bars, last_bar_days, mark_stale, symbols_missing_bar, tiers
from tasks import chords, context
from tasks.base import tickerbeat_task
from tasks.fetching import record_usage
from worker.celery import app

log = logging.getLogger("tickerbeat.planner")

HISTORY_DAYS = 730  # the free Polygon plan's two years
# A session counts as backfilled when this share of the universe has a bar on it.
BACKFILL_COVERAGE = 0.5


def _remaining(provider: str, seconds: float) -> int:
    ctx = context.current()
    policy = ctx.policy(provider)
    return remaining_calls(policy, ctx.limiter.stats(provider, policy), seconds)


def _carry_key(provider: str, what: str) -> str:
    return f"tickerbeat:carry:{provider}:{what}"


PLAN_KEEP_SECONDS = 8 * 86400


def plan_key(day: str) -> str:
    """Redis hash of the planner's decisions for ``day`` (field: what was planned; value: JSON summary),
    read by ``celery inspect plan`` and the metrics exporter."""
    return f"tickerbeat:plan:{day}"


def _record(day: str, what: str, summary: dict) -> dict:
    r = context.current().redis
    r.hset(plan_key(day), what, json.dumps(summary, default=str))
    r.expire(plan_key(day), PLAN_KEEP_SECONDS)
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


@tickerbeat_task(name="tasks.planner.plan_refresh", expires=3600)
def plan_refresh(
    tiers: list[int],
    day: str,
    provider: str = "finnhub",
    per_run: int | None = None,
    window_seconds: float = 50 * 60,
) -> dict:
    """Refresh ``tiers`` from ``provider`` on ``day``, as many symbols as its quota serves in the window.

    ``per_run`` rotates through the tiers (oldest data first) at most that many symbols a run; symbols
    the quota cannot serve now are carried to the provider's next run, first in line.
    """
    if provider not in REFRESH_TASKS:
        raise ValueError(f"no refresh task for provider {provider!r}; known: {', '.join(REFRESH_TASKS)}")
    ctx = context.current()
    with ctx.db.session() as s:
        by_tier = {t: active_symbols(s, tier=t) for t in tiers}
        if per_run is not None:
            age = last_bar_days(s, [sym for t in tiers for sym in by_tier[t]])
            oldest = sorted(age, key=lambda sym: (age[sym] or date.min, sym))[:per_run]
            by_tier = {0: oldest}
    carry = _carry_key(provider, "refresh")
    carried = json.loads(ctx.redis.getdel(carry) or "[]")
    order = priority_order(by_tier, carried)
    decision = admit(order, _remaining(provider, window_seconds))
    if decision.carried:
        ctx.redis.set(carry, json.dumps(list(decision.carried)), ex=7 * 86400)
        log.warning(
            "%s refresh %s: %d symbols carried to the next run (quota)", provider, day, len(decision.carried)
        )
    task, common = REFRESH_TASKS[provider]
    batches = chords.launch(task, decision.admitted, common(day), "tasks.analysis.analyse_batch", {"day": day},
                            window_seconds + 600, kind=f"{provider}.refresh")  # fmt: skip
    summary = {"day": day, "tiers": tiers, "provider": provider, "planned": len(order),
               "admitted": len(decision.admitted), "carried": len(decision.carried), "batches": batches}  # fmt: skip
    return _record(day, f"{provider}:tiers={','.join(map(str, tiers))}", summary)


@tickerbeat_task(name="tasks.planner.plan_eod", expires=3 * 3600)
def plan_eod(day: str) -> dict:
    """Official bars for ``day`` and the session before it (corrections), then the fallbacks."""
    previous = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    fetch = app.signature("tasks.polygon.fetch_grouped_daily")
    chord([fetch.clone(kwargs={"day": day}), fetch.clone(kwargs={"day": previous})])(
        app.signature("tasks.planner.after_eod", kwargs={"day": day})
    )
    return _record(day, "eod", {"day": day, "grouped": [day, previous]})


@tickerbeat_task(name="tasks.planner.after_eod", expires=3 * 3600)
def after_eod(results: list, day: str, window_seconds: float = 2 * 3600) -> dict:
    """Send the symbols still missing ``day``'s bar to Yahoo, then Alpha Vantage; mark the rest stale."""
    ctx = context.current()
    with ctx.db.session() as s, s.begin():
        record_usage(s, day, results)
        missing = symbols_missing_bar(s, day)
        tier_of = tiers(s)
    missing.sort(key=lambda sym: (tier_of.get(sym, 4), sym))
    to_yahoo = admit(missing, _remaining("yahoo", window_seconds))
    to_av = admit(to_yahoo.carried, _remaining("alphavantage", window_seconds))
    start = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    common = {"start": start, "end": day}
    follow = {"day": day, "indicators": False, "stale_if_missing": True}
    chords.launch(
        "tasks.yahoo.fetch_history",
        to_yahoo.admitted,
        common,
        "tasks.analysis.analyse_batch",
        follow,
        window_seconds + 600,
        kind="yahoo.history",
    )
    chords.launch(
        "tasks.alphavantage.fetch_daily",
        to_av.admitted,
        common,
        "tasks.analysis.analyse_batch",
        follow,
        window_seconds + 600,
        kind="alphavantage.daily",
    )
    stale = to_av.carried
    if stale:
        _mark_stale(day, stale, "no provider could serve it within its quota")
    summary = {"day": day, "missing": len(missing), "yahoo": len(to_yahoo.admitted),
               "alphavantage": len(to_av.admitted), "stale": len(stale)}  # fmt: skip
    return _record(day, "eod-fallbacks", summary)


def _mark_stale(day: str, symbols, reason: str) -> None:
    with context.current().db.session() as s, s.begin():
        mark_stale(s, [{"symbol": sym, "day": day, "reason": reason} for sym in symbols])


@tickerbeat_task(name="tasks.planner.plan_backfill", expires=3 * 3600)
def plan_backfill(day: str, window_seconds: float = 2 * 3600, history_days: int = HISTORY_DAYS) -> dict:
    """One grouped-daily call per session of the last two years that the universe mostly lacks."""
    ctx = context.current()
    end = date.fromisoformat(day)
    start = end - timedelta(days=history_days)
    with ctx.db.session() as s:
        universe = len(active_symbols(s))
        have = set(days_with_bars(s, start, end, min_symbols=max(1, int(universe * BACKFILL_COVERAGE))))
    # Polygon refuses data older than two years: keep a day's margin inside the limit.
    sessions = [d for d in marketcal.trading_days(start + timedelta(days=1), end) if d not in have]
    sessions.sort(reverse=True)  # newest first: the indicators need the recent past most
    decision = admit([d.isoformat() for d in sessions], _remaining("polygon", window_seconds))
    fetch = app.signature("tasks.polygon.fetch_grouped_daily")
    if decision.admitted:
        chord([fetch.clone(kwargs={"day": d}) for d in decision.admitted])(
            app.signature("tasks.planner.after_backfill", kwargs={"day": day})
        )
    summary = {"day": day, "missing_sessions": len(sessions), "admitted": len(decision.admitted),
               "carried": len(decision.carried)}  # fmt: skip
    return _record(day, "backfill", summary)


@tickerbeat_task(name="tasks.planner.after_backfill")
def after_backfill(results: list, day: str) -> dict:
    with context.current().db.session() as s, s.begin():
        record_usage(s, day, results)
    stored = sum(r.get("stored", 0) for r in results if isinstance(r, dict))
    return {"day": day, "sessions": len(results), "bars": stored}


CONSERVATION_KEY = "tickerbeat:conservation"


def conservation_level() -> int:
    """The level set by the last budget check (0 when none ran)."""
    raw = context.current().redis.get(CONSERVATION_KEY)
    return int(json.loads(raw).get("level", 0)) if raw else 0


@tickerbeat_task(name="tasks.planner.check_budget", expires=3000)
def check_budget(day: str) -> dict:
    """Month-to-date cost and projection from recorded usage and the plans; sets conservation mode."""
    from planning.budget import budget_status, provider_cost
    from storage import usage_for

    ctx = context.current()
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
    ctx.redis.set(CONSERVATION_KEY, json.dumps(summary))
    if status.level != previous:
        log.warning("conservation mode level %d -> %d: projection %.2f USD (warning %.2f, budget %.2f)",
                    previous, status.level, status.projection_usd, status.warning_usd, status.budget_usd)  # fmt: skip
    return _record(day, "budget", summary)
