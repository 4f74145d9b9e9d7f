"""The universe's jobs: the listing (loaded, kept current), its tiers, and the first start's bootstrap."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import marketcal
from dispatch import RunSpec
from jobs import names, runs
from jobs.planner import HISTORY_DAYS, missing_sessions, record_plan, record_run_usage
from planning.bootstrap import BootstrapFacts, next_steps, progress_line
from planning.tiers import assign_tiers, count_by_tier, mean_dollar_volumes
from ratelimits import quota_floor
from runtime import keys
from storage import (
    active_symbols,
    bars_panel,
    deactivate,
    latest_model_version,
    listing_split,
    pinned_tiers,
    symbols_without_bars,
    upsert_symbols,
)

log = logging.getLogger("tickerbeat.tiers")

# Sessions of dollar volume that decide a tier: about a month.
TIER_SESSIONS = 21
UNIVERSE_SOURCES = {
    "finnhub": names.FINNHUB_SYMBOLS,
    "polygon": names.POLYGON_TICKERS,
    "alphavantage": names.ALPHAVANTAGE_LISTING,
}
# A listing smaller than this share of the active universe is taken for a provider glitch, not delistings.
DELIST_GUARD = 0.9


def load_universe(ctx, token: str, source: str | None, day: str | None, now: datetime) -> dict:
    """Ask ``source`` (default ``TICKERBEAT_UNIVERSE_SOURCE``) for the US symbol list, through the paced
    dispatcher; ``after_universe`` then retires what the listing no longer has and backfills new listings.
    ``token``: the run's own part of its id (a redelivered task submits nothing twice)."""
    source = source or ctx.settings.universe_source
    if source not in UNIVERSE_SOURCES:
        raise ValueError(f"unknown universe source {source!r}; choose one of {', '.join(UNIVERSE_SOURCES)}")
    day = day or marketcal.last_completed_session(now).isoformat()
    spec = RunSpec(f"universe:{day}:{token}", source, UNIVERSE_SOURCES[source], None, day, kind=f"{source}.universe",
                   callback=names.AFTER_UNIVERSE, callback_kwargs={"day": day, "started": now.isoformat()},
                   priority=0, track_ok=True)  # fmt: skip
    ctx.redis.hset(keys.BOOTSTRAP, "universe_run", spec.id)
    runs.submit(ctx, spec, ["-"])
    return {"source": source, "run": spec.id}


def after_universe(ctx, run_id: str, day: str, started: str) -> dict:
    """After a listing was stored: symbols it no longer holds are deactivated (history kept), new ones
    start in tier 4 and, once the two-year history exists, get their own history from Yahoo."""
    ledger = ctx.backlog.ledger(run_id)
    listed_ok = bool(ctx.backlog.ok_keys(run_id))
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ledger)
        seen, unseen = listing_split(s, datetime.fromisoformat(started))
        retired: list[str] = []
        if listed_ok and unseen and len(seen) >= DELIST_GUARD * (len(seen) + len(unseen)):
            retired = deactivate(s, unseen, date.fromisoformat(day))
        fresh = symbols_without_bars(s)
        if fresh:
            upsert_symbols(s, [{"ticker": t, "tier": 4} for t in fresh])
    history_ready = ctx.redis.hget(keys.BOOTSTRAP, "tiers") == b"final"
    backfilled = backfill_new_listings(ctx, day, fresh) if history_ready and fresh else 0
    summary = {"day": day, "run": run_id, "listed": len(seen), "retired": len(retired), "new": len(fresh),
               "history_requested": backfilled, "ok": listed_ok}  # fmt: skip
    record_plan(ctx.redis, day, "universe", summary)
    runs.wake_bootstrap()
    return summary


def backfill_new_listings(ctx, day: str, symbols: list[str]) -> int:
    """Two years of daily bars for each new listing, one Yahoo call each, at the quota's pace."""
    start = (date.fromisoformat(day) - timedelta(days=HISTORY_DAYS)).isoformat()
    spec = RunSpec(f"listing-history:{day}", "yahoo", names.YAHOO_HISTORY, "symbol", day,
                   kind="yahoo.listing-history", common={"start": start, "end": day}, priority=2,
                   track_ok=True)  # fmt: skip
    return max(0, runs.submit(ctx, spec, symbols))


def dollar_volumes(session, day: date, symbols: list[str], sessions: int = TIER_SESSIONS) -> dict[str, float]:
    """Mean close x volume over the last ``sessions`` sessions up to ``day`` (NaN without bars)."""
    days = marketcal.trading_days(day - timedelta(days=sessions * 2 + 10), day)[-sessions:]
    panel = bars_panel(session, days[0], day, symbols=symbols, days=days)
    return mean_dollar_volumes(panel.close, panel.volume, symbols)


def reassign_tiers(session, day: str) -> dict:
    """Tiers by the last month's dollar volume (pinned symbols keep their tier), stored."""
    symbols = active_symbols(session)
    tiers = assign_tiers(dollar_volumes(session, date.fromisoformat(day), symbols), pinned_tiers(session))
    upsert_symbols(session, [{"ticker": t, "tier": tier} for t, tier in tiers.items()])
    return {"day": day, "symbols": len(tiers), "tiers": count_by_tier(tiers)}


@dataclass
class BootstrapPass:
    """One pass of the first start: its progress line, and the steps to start now with their arguments
    (``universe``, ``history``, ``tiers``, ``model``: the task wrapper sends each to its task)."""

    status: str
    start: list[tuple[str, dict]] = field(default_factory=list)


def bootstrap(
    ctx, now: datetime, history_end: str | None = None, history_days: int | None = None
) -> BootstrapPass:
    """First start, or an empty universe: which steps to start now (load the universe, start the paced
    history, assign tiers from the first bars, train the first model once the history is complete).
    Idempotent; logs one progress line.

    The history ends on the session before the last completed one (the free Polygon plan serves a session
    the next day; the nightly bars take the latest), or on ``history_end`` (a rehearsal: kept for the
    passes that follow). ``history_days``: calendar days of history wanted (default two years; a rehearsal
    asks for less, kept likewise)."""
    state = ctx.redis
    if history_end:
        state.hset(keys.BOOTSTRAP, "history_end", history_end)
    if history_days:
        state.hset(keys.BOOTSTRAP, "history_days", int(history_days))
    stored = state.hget(keys.BOOTSTRAP, "history_end")
    day = history_end or (stored.decode() if stored else history_day(now))
    facts, eta = bootstrap_facts(ctx, day)
    start: list[tuple[str, dict]] = []
    for step in next_steps(facts):
        if step == "history":
            state.hset(keys.BOOTSTRAP, "history_planned", day)
            days = state.hget(keys.BOOTSTRAP, "history_days")
            start.append((step, {"day": day, **({"history_days": int(days)} if days else {})}))
            continue
        if step == "tiers":
            state.hset(keys.BOOTSTRAP, "tiers", "final" if facts.history_complete else "provisional")
        elif step == "model":
            state.hset(keys.BOOTSTRAP, "model_tried", day)
        start.append((step, {"day": day}))
    line = progress_line(facts, eta, (state.hget(keys.BOOTSTRAP, "model_reason") or b"").decode())
    state.hset(keys.BOOTSTRAP, mapping={"status": line, "updated": now.isoformat()})
    if start or not facts.history_complete or not facts.model:
        started = f" (started: {', '.join(s for s, _ in start)})" if start else ""
        log.info("bootstrap: %s%s", line, started)
    return BootstrapPass(line, start)


def history_day(now: datetime) -> str:
    """Where the first start's history ends by default: the session before the last completed one."""
    return marketcal.previous_trading_day(marketcal.last_completed_session(now)).isoformat()


def note_model_reason(redis, reason: str | None) -> None:
    """Why the model is not trained yet (None: it is), for the first start's progress line."""
    if reason:
        redis.hset(keys.BOOTSTRAP, "model_reason", reason)
    else:
        redis.hdel(keys.BOOTSTRAP, "model_reason")


def bootstrap_facts(ctx, day: str) -> tuple[BootstrapFacts, float]:
    """(``BootstrapFacts`` for ``day``, seconds the history still needs at Polygon's quota floor)."""
    state = {k.decode(): v.decode() for k, v in ctx.redis.hgetall(keys.BOOTSTRAP).items()}
    with ctx.db.session() as s:
        universe = len(active_symbols(s))
        days = int(state.get("history_days") or 0) or HISTORY_DAYS
        missing, total = missing_sessions(s, day, days) if universe else ([], 0)
        model = latest_model_version(s) is not None
    backfill = ctx.redis.get(keys.BACKFILL_RUN)
    ledger = ctx.backlog.ledger(backfill.decode()) if backfill else None
    universe_run = ctx.backlog.ledger(state["universe_run"]) if state.get("universe_run") else None
    facts = BootstrapFacts(
        universe=universe, universe_open=universe_run is not None and not universe_run.done,
        history_have=total - len(missing), history_total=total,
        backfill_open=ledger is not None and not ledger.done, tiers=state.get("tiers", ""), model=model,
        model_tried=state.get("model_tried", ""), day=day, history_planned=state.get("history_planned", ""),
    )  # fmt: skip
    left = ledger.pending if ledger is not None and not ledger.done else len(missing)
    eta = quota_floor(ctx.policy("polygon"), left + 1, ctx.settings.quota_guard_seconds) if left else 0.0
    return facts, eta
