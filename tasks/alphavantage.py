"""Queue ``alphavantage``: gap repair from TIME_SERIES_DAILY (25 calls a day on the free plan).

Alpha Vantage's free daily series is unadjusted, so it only fills days that have no bar at all; it
never overwrites an adjusted bar from another source.
"""

from __future__ import annotations

from datetime import date

from tasks.base import tickerbeat_task
from tasks.fetching import run_fetch
from tasks.storing import store_missing_bars, store_symbols


@tickerbeat_task(name="tasks.alphavantage.fetch_daily", expires=6 * 3600)
def fetch_daily(symbol: str, start: str, end: str) -> dict:
    """The last 100 sessions of ``symbol``; bars between ``start`` and ``end`` that are missing are stored."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return run_fetch(
        "alphavantage",
        lambda c: c.daily(symbol),
        lambda r: store_missing_bars(r, symbol, first, last),
        symbol=symbol,
    )


@tickerbeat_task(name="tasks.alphavantage.fetch_listing")
def fetch_listing() -> dict:
    """LISTING_STATUS (one call of the 25 a day): active US listings, upserted into the universe."""
    return run_fetch("alphavantage", lambda c: c.listing_status(), store_symbols)
