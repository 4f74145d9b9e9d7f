"""Pure freshness arithmetic for the data-quality metrics: when a session's bars are due, how stale the
newest bar is. Instants are aware datetimes; durations are seconds. The exchange calendar comes from
``marketcal`` (no I/O here).
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import marketcal

# A session's official bars are due by this New York time on the calendar day after it: Polygon's free
# grouped-daily call runs at 00:30 (the day is served after midnight), the Yahoo and Alpha Vantage
# fallbacks get two hours, and the pre-market refresh runs at 05:00.
BARS_DUE_AT = time(6, 0)


def bars_deadline(day: date) -> datetime:
    """The instant by which ``day``'s bars should be stored (``BARS_DUE_AT`` New York, the next day)."""
    return datetime.combine(day + timedelta(days=1), BARS_DUE_AT, tzinfo=marketcal.EASTERN)


def expected_bar_day(now: datetime) -> date:
    """The newest session whose bars are past their deadline at ``now``: every active symbol should
    have a bar for it."""
    day = marketcal.last_completed_session(now)
    while bars_deadline(day) > now:
        day = marketcal.previous_trading_day(day)
    return day


def _close(day: date) -> datetime:
    """``day``'s session close; 16:00 New York for a day that was not a session (a bar dated on one)."""
    if marketcal.is_trading_day(day):
        return marketcal.session_close(day)
    return datetime.combine(day, time(16, 0), tzinfo=marketcal.EASTERN)


def bar_age_seconds(newest: date | None, now: datetime) -> float:
    """Seconds from the close of the newest bar's session to ``now``; ``inf`` when there is no bar."""
    if newest is None:
        return math.inf
    return (now - _close(newest)).total_seconds()


def staleness_seconds(newest: date | None, now: datetime) -> float:
    """Seconds since the first session the newest bar does not cover ended; 0 while bars are current.

    Unlike ``bar_age_seconds`` this does not grow over weekends and holidays: after Friday's bar is
    stored, staleness stays 0 until Monday's close. ``inf`` when there is no bar at all.
    """
    if newest is None:
        return math.inf
    uncovered = _close(marketcal.next_trading_day(newest))
    return max(0.0, (now - uncovered).total_seconds())
