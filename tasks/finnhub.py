"""Queue ``finnhub``: quotes (the intraday and post-close sweeps) and the US symbol list."""

from __future__ import annotations

from jobs import names
from jobs.fetching import run_fetch
from jobs.storing import store_quotes, store_symbols
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.FINNHUB_QUOTE, expires=3600)
def fetch_quote(symbol: str, day: str) -> dict:
    """One symbol's quote, stored by (symbol, quote time); returns a small status record."""
    ctx = resources.current()
    return run_fetch(ctx, "finnhub", lambda c: c.quote(symbol), lambda r: store_quotes(ctx, r), symbol=symbol)


@tickerbeat_task(name=names.FINNHUB_SYMBOLS)
def fetch_symbols() -> dict:
    """The US symbol list, upserted into the universe."""
    ctx = resources.current()
    return run_fetch(ctx, "finnhub", lambda c: c.symbols(), lambda r: store_symbols(ctx, r))
