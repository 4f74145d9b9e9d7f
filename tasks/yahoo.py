"""Queue ``yahoo``: chart history for symbols the other providers missed (best-effort fallback)."""

from __future__ import annotations

from datetime import date

from jobs import names
from jobs.fetching import run_fetch
from jobs.storing import store_missing_bars
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.YAHOO_HISTORY, expires=6 * 3600)
def fetch_history(symbol: str, start: str, end: str) -> dict:
    """Daily bars of ``symbol`` from ``start`` to ``end`` (ISO dates); only days without a bar are stored."""
    ctx = resources.current()
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    store = lambda r: store_missing_bars(ctx, r, symbol, first, last)  # noqa: E731
    return run_fetch(ctx, "yahoo", lambda c: c.daily_history(symbol, first, last), store, symbol=symbol)
