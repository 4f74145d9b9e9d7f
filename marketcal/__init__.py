"""The NYSE trading calendar, from the maintained ``exchange_calendars`` package (holidays, half days, DST).

Shared by the pipeline and the sandbox (the only code they share). Dates are exchange-local dates;
instants are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
EASTERN = ZoneInfo("America/New_York")


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    today = date.today()
    # Three years back covers two years of history plus margin; one year ahead covers planning.
    return xcals.get_calendar(
        EXCHANGE, start=pd.Timestamp(today.year - 4, 1, 1), end=pd.Timestamp(today.year + 1, 12, 31)
    )


def _ts(d: date) -> pd.Timestamp:
    return pd.Timestamp(d.year, d.month, d.day)


@lru_cache(maxsize=1)
def _sessions() -> tuple[date, date, frozenset[date]]:
    """The calendar's first and last session and every session between, for O(1) membership
    (validation checks thousands of bars per provider call)."""
    cal = _calendar()
    return cal.first_session.date(), cal.last_session.date(), frozenset(ts.date() for ts in cal.sessions)


def is_trading_day(d: date) -> bool:
    """True when NYSE holds a session on ``d`` (weekends and exchange holidays are False)."""
    first, last, sessions = _sessions()
    if first <= d <= last:
        return d in sessions
    return bool(_calendar().is_session(_ts(d)))


def trading_days(start: date, end: date) -> list[date]:
    """Sessions from ``start`` to ``end``, both included, oldest first."""
    if end < start:
        return []
    return [ts.date() for ts in _calendar().sessions_in_range(_ts(start), _ts(end))]


def previous_trading_day(d: date) -> date:
    """The last session strictly before ``d``."""
    cal = _calendar()
    return cal.date_to_session(_ts(d - timedelta(days=1)), direction="previous").date()


def next_trading_day(d: date) -> date:
    """The first session strictly after ``d``."""
    return _calendar().date_to_session(_ts(d + timedelta(days=1)), direction="next").date()


def session_open(d: date) -> datetime:
    """The session's opening instant (UTC). ``d`` must be a trading day."""
    return _calendar().session_open(_ts(d)).to_pydatetime().astimezone(UTC)


def session_close(d: date) -> datetime:
    """The session's closing instant (UTC): 16:00 ET, or 13:00 ET on half days."""
    return _calendar().session_close(_ts(d)).to_pydatetime().astimezone(UTC)


def is_half_day(d: date) -> bool:
    return is_trading_day(d) and session_close(d).astimezone(EASTERN).hour < 16


def is_open(at: datetime) -> bool:
    """True while the regular session is open at the aware instant ``at``."""
    d = at.astimezone(EASTERN).date()
    return is_trading_day(d) and session_open(d) <= at < session_close(d)


def last_completed_session(at: datetime) -> date:
    """The most recent session whose close is at or before ``at``."""
    d = at.astimezone(EASTERN).date()
    if is_trading_day(d) and session_close(d) <= at:
        return d
    return previous_trading_day(d)
