"""Loading the analysis panel: official bars from storage, plus the day's provisional closes from quotes.

The evening analysis runs before the official end-of-day bars exist (Polygon serves a day only after
midnight New York), so a symbol without a bar for ``day`` takes that day's close, high and low from its
latest quote of the session, with volume unknown (NaN, never a made-up number).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

import marketcal
from analysis.panel import Panel
from storage import bars_panel, latest_quotes

# Sessions of history the indicators need: 252 for the 52-week range, 200 for the long averages.
HISTORY_SESSIONS = 300


def load_panel(session, day: date, symbols: Sequence[str], sessions: int = HISTORY_SESSIONS) -> Panel:
    """The (sessions x symbols) panel ending at ``day``, provisional quotes filling ``day``'s gaps."""
    start = day - timedelta(days=int(sessions * 7 / 5) + 10)
    days = marketcal.trading_days(start, day)[-sessions:]
    stored = bars_panel(session, days[0], day, symbols=list(symbols), days=days)
    close, high, low, volume = (
        np.array(getattr(stored, f), dtype=np.float64) for f in ("close", "high", "low", "volume")
    )
    if days and days[-1] == day:
        _fill_from_quotes(session, day, list(symbols), close, high, low)
    return Panel(tuple(days), tuple(symbols), close, high, low, volume)


def _fill_from_quotes(session, day: date, symbols: list[str], close, high, low) -> int:
    missing = [i for i in range(len(symbols)) if not np.isfinite(close[-1, i])]
    if not missing:
        return 0
    quotes = latest_quotes(session, [symbols[i] for i in missing])
    open_at, close_at = marketcal.session_open(day), marketcal.session_close(day)
    filled = 0
    for i in missing:
        q = quotes.get(symbols[i])
        if q is None or not (open_at <= q.at <= close_at + timedelta(hours=8)):
            continue
        close[-1, i] = q.price
        high[-1, i] = q.high if q.high else q.price
        low[-1, i] = q.low if q.low else q.price
        filled += 1
    return filled
