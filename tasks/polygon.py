"""Queue ``polygon``: grouped daily bars (the whole market in one call) and the reference ticker list."""

from __future__ import annotations

from datetime import date

from jobs import names
from jobs.fetching import run_fetch
from jobs.storing import store_bars, store_symbols, store_universe_bars
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.POLYGON_GROUPED_DAILY, expires=6 * 3600)
def fetch_grouped_daily(day: str) -> dict:
    """Every universe symbol's official bar for ``day`` (ISO date) in one call; other tickers are ignored."""
    ctx = resources.current()
    the_day = date.fromisoformat(day)
    summary = run_fetch(
        ctx, "polygon", lambda c: c.grouped_daily(the_day), lambda r: store_universe_bars(ctx, r)
    )
    return {**summary, "day": day}


@tickerbeat_task(name=names.POLYGON_TICKERS)
def fetch_tickers() -> dict:
    """The active US stock tickers (every page through the quota), upserted into the universe."""
    ctx = resources.current()
    return run_fetch(ctx, "polygon", lambda c: c.tickers(), lambda r: store_symbols(ctx, r))


@tickerbeat_task(name=names.POLYGON_PREVIOUS_CLOSE, expires=6 * 3600)
def fetch_previous_close(symbol: str, day: str) -> dict:
    """The symbol's last completed session's bar (the seed plan's per-ticker refresh of tier 3)."""
    ctx = resources.current()
    store = lambda r: store_bars(ctx, r.records)  # noqa: E731
    return run_fetch(ctx, "polygon", lambda c: c.previous_close(symbol), store, symbol=symbol)
