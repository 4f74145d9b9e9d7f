"""Queue ``control``: the universe (loaded, kept current), its tiers, and the first start's bootstrap."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta

import marketcal
from dispatch import RunSpec
from planning.bootstrap import BootstrapFacts, next_steps, progress_line
from planning.tiers import assign_tiers, mean_dollar_volumes
from ratelimits import quota_floor
from runtime import keys, resources
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
from tasks import runs
from tasks.base import tickerbeat_task
from tasks.fetching import record_run_usage
from tasks.planner import HISTORY_DAYS, missing_sessions, plan_backfill, record_plan
from tasks.recommendations import retrain_model

log = logging.getLogger("tickerbeat.tiers")

# Sessions of dollar volume that decide a tier: about a month.
TIER_SESSIONS = 21
UNIVERSE_SOURCES = {
    "finnhub": "tasks.finnhub.fetch_symbols",
    "polygon": "tasks.polygon.fetch_tickers",
    "alphavantage": "tasks.alphavantage.fetch_listing",
}


# A listing smaller than this share of the active universe is taken for a provider glitch, not delistings.
DELIST_GUARD = 0.9


@tickerbeat_task(name="tasks.tiers.load_universe", bind=True)
def load_universe(self, source: str | None = None, day: str | None = None) -> dict:
    """Ask ``source`` (default ``TICKERBEAT_UNIVERSE_SOURCE``) for the US symbol list, through the paced
    dispatcher; ``after_universe`` then retires what the listing no longer has and backfills new listings."""
    ctx = resources.current()
    source = source or ctx.settings.universe_source
    if source not in UNIVERSE_SOURCES:
        raise ValueError(f"unknown universe source {source!r}; choose one of {', '.join(UNIVERSE_SOURCES)}")
    day = day or _session_day()
    started = datetime.now(UTC).isoformat()
    spec = RunSpec(f"universe:{day}:{(self.request.id or uuid.uuid4().hex)[:12]}", source, UNIVERSE_SOURCES[source],
                   None, day, kind=f"{source}.universe", callback="tasks.tiers.after_universe",
                   callback_kwargs={"day": day, "started": started}, priority=0, track_ok=True)  # fmt: skip
    ctx.redis.hset(keys.BOOTSTRAP, "universe_run", spec.id)
    runs.submit(spec, ["-"])
    return {"source": source, "run": spec.id}


@tickerbeat_task(name="tasks.tiers.after_universe")
def after_universe(run_id: str, day: str, started: str) -> dict:
    """After a listing was stored: symbols it no longer holds are deactivated (history kept), new ones
    start in tier 4 and, once the two-year history exists, get their own history from Yahoo."""
    ctx = resources.current()
    ledger = ctx.backlog.ledger(run_id)
    listed_ok = bool(ctx.backlog.ok_keys(run_id))
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ledger)
        since = datetime.fromisoformat(started)
        seen, unseen = listing_split(s, since)
        retired: list[str] = []
        if listed_ok and unseen and len(seen) >= DELIST_GUARD * (len(seen) + len(unseen)):
            retired = deactivate(s, unseen, date.fromisoformat(day))
        fresh = symbols_without_bars(s)
        if fresh:
            upsert_symbols(s, [{"ticker": t, "tier": 4} for t in fresh])
    history_ready = ctx.redis.hget(keys.BOOTSTRAP, "tiers") == b"final"
    backfilled = _backfill_new_listings(day, fresh) if history_ready and fresh else 0
    summary = {"day": day, "run": run_id, "listed": len(seen), "retired": len(retired), "new": len(fresh),
               "history_requested": backfilled, "ok": listed_ok}  # fmt: skip
    record_plan(day, "universe", summary)
    runs.wake_bootstrap()
    return summary


def _backfill_new_listings(day: str, symbols: list[str]) -> int:
    """Two years of daily bars for each new listing, one Yahoo call each, at the quota's pace."""
    start = (date.fromisoformat(day) - timedelta(days=730)).isoformat()
    spec = RunSpec(f"listing-history:{day}", "yahoo", "tasks.yahoo.fetch_history", "symbol", day,
                   kind="yahoo.listing-history", common={"start": start, "end": day}, priority=2,
                   track_ok=True)  # fmt: skip
    return max(0, runs.submit(spec, symbols))


def _session_day() -> str:
    return marketcal.last_completed_session(datetime.now(UTC)).isoformat()


def _history_day() -> str:
    return marketcal.previous_trading_day(marketcal.last_completed_session(datetime.now(UTC))).isoformat()


def dollar_volumes(session, day: date, symbols: list[str], sessions: int = TIER_SESSIONS) -> dict[str, float]:
    """Mean close x volume over the last ``sessions`` sessions up to ``day`` (NaN without bars)."""
    days = marketcal.trading_days(day - timedelta(days=sessions * 2 + 10), day)[-sessions:]
    panel = bars_panel(session, days[0], day, symbols=symbols, days=days)
    return mean_dollar_volumes(panel.close, panel.volume, symbols)


@tickerbeat_task(name="tasks.tiers.reassign_tiers", expires=6 * 3600)
def reassign_tiers(day: str) -> dict:
    """Tiers by the last month's dollar volume (pinned symbols keep their tier)."""
    with resources.current().db.session() as s, s.begin():
        symbols = active_symbols(s)
        pins = pinned_tiers(s)
        tiers = assign_tiers(dollar_volumes(s, date.fromisoformat(day), symbols), pins)
        upsert_symbols(s, [{"ticker": t, "tier": tier} for t, tier in tiers.items()])
    counts = {tier: sum(1 for v in tiers.values() if v == tier) for tier in sorted(set(tiers.values()))}
    return {"day": day, "symbols": len(tiers), "tiers": counts}


@tickerbeat_task(name="tasks.tiers.bootstrap", expires=250)
def bootstrap(history_end: str | None = None, history_days: int | None = None) -> dict:
    """First start, or an empty universe: load it, start the paced history, assign tiers from the first
    bars, train the first model once the history is complete. Idempotent; logs one progress line.

    The history ends on the session before the last completed one (the free Polygon plan serves a session
    the next day; the nightly bars take the latest), or on ``history_end`` (a rehearsal: kept for the
    passes that follow). ``history_days``: calendar days of history wanted (default two years; a rehearsal
    asks for less, kept likewise)."""
    ctx = resources.current()
    if history_end:
        ctx.redis.hset(keys.BOOTSTRAP, "history_end", history_end)
    if history_days:
        ctx.redis.hset(keys.BOOTSTRAP, "history_days", int(history_days))
    stored = ctx.redis.hget(keys.BOOTSTRAP, "history_end")
    session_day = history_end or (stored.decode() if stored else _history_day())
    facts, eta = bootstrap_facts(ctx, session_day)
    started = []
    for step in next_steps(facts):
        if step == "universe":
            load_universe.apply_async(kwargs={"day": session_day})
        elif step == "history":
            ctx.redis.hset(keys.BOOTSTRAP, "history_planned", session_day)
            days = ctx.redis.hget(keys.BOOTSTRAP, "history_days")
            wanted = {"history_days": int(days)} if days else {}
            plan_backfill.apply_async(kwargs={"day": session_day, **wanted})
        elif step == "tiers":
            final = facts.history_complete
            ctx.redis.hset(keys.BOOTSTRAP, "tiers", "final" if final else "provisional")
            reassign_tiers.apply_async(kwargs={"day": session_day})
        elif step == "model":
            ctx.redis.hset(keys.BOOTSTRAP, "model_tried", session_day)
            retrain_model.apply_async(kwargs={"day": session_day})
        started.append(step)
    reason = (ctx.redis.hget(keys.BOOTSTRAP, "model_reason") or b"").decode()
    line = progress_line(facts, eta, reason)
    ctx.redis.hset(keys.BOOTSTRAP, mapping={"status": line, "updated": datetime.now(UTC).isoformat()})
    if started or not facts.history_complete or not facts.model:
        log.info("bootstrap: %s%s", line, f" (started: {', '.join(started)})" if started else "")
    return {"status": line, "started": started}


def bootstrap_facts(ctx, day: str):
    """(``BootstrapFacts`` for ``day``, seconds the history still needs at Polygon's quota floor or None)."""
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
