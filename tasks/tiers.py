"""Queue ``control``: the universe and its tiers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import select

import marketcal
from planning.tiers import assign_tiers
from storage import active_symbols, bars_panel, upsert_symbols
from storage.models import Symbol
from tasks import context
from tasks.base import tickerbeat_task
from worker.celery import app

# Sessions of dollar volume that decide a tier: about a month.
TIER_SESSIONS = 21
UNIVERSE_SOURCES = {
    "finnhub": "tasks.finnhub.fetch_symbols",
    "polygon": "tasks.polygon.fetch_tickers",
    "alphavantage": "tasks.alphavantage.fetch_listing",
}


@tickerbeat_task(name="tasks.tiers.load_universe")
def load_universe(source: str = "finnhub") -> dict:
    """Ask ``source``'s queue for the US symbol list (upserted there); returns the task id."""
    if source not in UNIVERSE_SOURCES:
        raise ValueError(f"unknown universe source {source!r}; choose one of {', '.join(UNIVERSE_SOURCES)}")
    result = app.signature(UNIVERSE_SOURCES[source]).apply_async()
    return {"source": source, "task_id": result.id}


def dollar_volumes(session, day: date, symbols: list[str], sessions: int = TIER_SESSIONS) -> dict[str, float]:
    """Mean close x volume over the last ``sessions`` sessions up to ``day`` (NaN without bars)."""
    days = marketcal.trading_days(day - timedelta(days=sessions * 2 + 10), day)[-sessions:]
    panel = bars_panel(session, days[0], day, symbols=symbols, days=days)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.asarray(panel.close) * np.asarray(panel.volume), axis=0) if len(days) else []
    return {s: float(v) for s, v in zip(symbols, means, strict=False)}


@tickerbeat_task(name="tasks.tiers.reassign_tiers", expires=6 * 3600)
def reassign_tiers(day: str) -> dict:
    """Tiers by the last month's dollar volume (pinned symbols keep their tier)."""
    with context.current().db.session() as s, s.begin():
        symbols = active_symbols(s)
        pins = {
            t: p
            for t, p in s.execute(
                select(Symbol.ticker, Symbol.pinned_tier).where(Symbol.pinned_tier.is_not(None))
            )
        }
        tiers = assign_tiers(dollar_volumes(s, date.fromisoformat(day), symbols), pins)
        upsert_symbols(s, [{"ticker": t, "tier": tier} for t, tier in tiers.items()])
    counts = {tier: sum(1 for v in tiers.values() if v == tier) for tier in sorted(set(tiers.values()))}
    return {"day": day, "symbols": len(tiers), "tiers": counts}
