"""Queue ``yahoo``: chart history for symbols the other providers missed (best-effort fallback)."""

from __future__ import annotations

from datetime import date

from tasks.base import tickerbeat_task
from tasks.fetching import run_fetch
from tasks.storing import store_missing_bars


@tickerbeat_task(name="tasks.yahoo.fetch_history", expires=6 * 3600)
def fetch_history(symbol: str, start: str, end: str) -> dict:
    """Daily bars of ``symbol`` from ``start`` to ``end`` (ISO dates); only days without a bar are stored."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return run_fetch(
        "yahoo",
        lambda c: c.daily_history(symbol, first, last),
        lambda r: store_missing_bars(r, symbol, first, last),
        symbol=symbol,
    )
