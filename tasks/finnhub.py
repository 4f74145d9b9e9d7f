"""Queue ``finnhub``: quotes (the intraday and post-close sweeps) and the US symbol list."""

from __future__ import annotations

from runtime import resources
from storage import upsert_quotes
from tasks.base import tickerbeat_task
from tasks.fetching import run_fetch
from tasks.storing import store_symbols


@tickerbeat_task(name="tasks.finnhub.fetch_quote", expires=3600)
def fetch_quote(symbol: str, day: str) -> dict:
    """One symbol's quote, stored by (symbol, quote time); returns a small status record."""
    return run_fetch("finnhub", lambda c: c.quote(symbol), _store_quotes, symbol=symbol)


@tickerbeat_task(name="tasks.finnhub.fetch_symbols")
def fetch_symbols() -> dict:
    """The US symbol list, upserted into the universe."""
    return run_fetch("finnhub", lambda c: c.symbols(), store_symbols)


def _store_quotes(result) -> int:
    with resources.current().db.session() as s, s.begin():
        return upsert_quotes(s, result.records)
