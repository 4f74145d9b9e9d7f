"""Queue ``polygon``: grouped daily bars (the whole market in one call) and the reference ticker list."""

from __future__ import annotations

from datetime import date

from runtime import resources
from storage import active_symbols
from tasks.base import tickerbeat_task
from tasks.fetching import run_fetch
from tasks.storing import store_bars, store_symbols


@tickerbeat_task(name="tasks.polygon.fetch_grouped_daily", expires=6 * 3600)
def fetch_grouped_daily(day: str) -> dict:
    """Every universe symbol's official bar for ``day`` (ISO date) in one call; other tickers are ignored."""
    summary = run_fetch("polygon", lambda c: c.grouped_daily(date.fromisoformat(day)), _store_universe_bars)
    summary["day"] = day
    return summary


@tickerbeat_task(name="tasks.polygon.fetch_tickers")
def fetch_tickers() -> dict:
    """The active US stock tickers (every page through the quota), upserted into the universe."""
    return run_fetch("polygon", lambda c: c.tickers(), store_symbols)


def _store_universe_bars(result) -> int:
    with resources.current().db.session() as s:
        universe = set(active_symbols(s))
    return store_bars([b for b in result.records if not universe or b.symbol in universe])


@tickerbeat_task(name="tasks.polygon.fetch_previous_close", expires=6 * 3600)
def fetch_previous_close(symbol: str, day: str) -> dict:
    """The symbol's last completed session's bar (the seed plan's per-ticker refresh of tier 3)."""
    return run_fetch("polygon", lambda c: c.previous_close(symbol), _store_bars, symbol=symbol)


def _store_bars(result) -> int:
    return store_bars(result.records)
