"""Queue ``alphavantage``: gap repair from TIME_SERIES_DAILY (25 calls a day on the free plan).

Alpha Vantage's free daily series is unadjusted, so it only fills days that have no bar at all; it
never overwrites an adjusted bar from another source.
"""

from __future__ import annotations

from datetime import date

from jobs import names
from jobs.fetching import run_fetch
from jobs.storing import store_missing_bars, store_symbols
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.ALPHAVANTAGE_DAILY, expires=6 * 3600)
def fetch_daily(symbol: str, start: str, end: str) -> dict:
    """The last 100 sessions of ``symbol``; bars between ``start`` and ``end`` that are missing are stored."""
    ctx = resources.current()
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    store = lambda r: store_missing_bars(ctx, r, symbol, first, last)  # noqa: E731
    return run_fetch(ctx, "alphavantage", lambda c: c.daily(symbol), store, symbol=symbol)


@tickerbeat_task(name=names.ALPHAVANTAGE_LISTING)
def fetch_listing() -> dict:
    """LISTING_STATUS (one call of the 25 a day): active US listings, upserted into the universe."""
    ctx = resources.current()
    return run_fetch(ctx, "alphavantage", lambda c: c.listing_status(), lambda r: store_symbols(ctx, r))
