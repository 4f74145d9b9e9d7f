"""The NYSE calendar wrapper, checked against the exchange's published 2026 schedule."""

from datetime import UTC, date, datetime

import pytest

import marketcal


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2026, 11, 25), True),
        (date(2026, 11, 26), False),  # Thanksgiving
        (date(2026, 11, 27), True),  # half day
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 12, 25), False),  # Christmas
        (date(2026, 7, 3), False),  # Independence Day observed (4 July is a Saturday)
        (date(2026, 1, 19), False),  # Martin Luther King Jr. Day
    ],
)
def test_is_trading_day(day, trading):
    assert marketcal.is_trading_day(day) is trading


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        (date(2026, 11, 25), datetime(2026, 11, 25, 21, 0, tzinfo=UTC)),  # 16:00 EST
        (date(2026, 11, 27), datetime(2026, 11, 27, 18, 0, tzinfo=UTC)),  # 13:00 EST half day
        (date(2026, 7, 15), datetime(2026, 7, 15, 20, 0, tzinfo=UTC)),  # 16:00 EDT
    ],
)
def test_session_close(day, close_utc):
    assert marketcal.session_close(day) == close_utc


def test_half_days_and_neighbours():
    assert marketcal.is_half_day(date(2026, 11, 27))
    assert not marketcal.is_half_day(date(2026, 11, 25))
    assert marketcal.previous_trading_day(date(2026, 11, 27)) == date(2026, 11, 25)
    assert marketcal.next_trading_day(date(2026, 11, 25)) == date(2026, 11, 27)
    assert marketcal.trading_days(date(2026, 11, 23), date(2026, 11, 29)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]


@pytest.mark.parametrize(
    ("at", "session"),
    [
        (datetime(2026, 11, 25, 20, 59, tzinfo=UTC), date(2026, 11, 24)),
        (datetime(2026, 11, 25, 21, 0, tzinfo=UTC), date(2026, 11, 25)),
        (datetime(2026, 11, 27, 10, 0, tzinfo=UTC), date(2026, 11, 25)),
        (datetime(2026, 11, 27, 18, 0, tzinfo=UTC), date(2026, 11, 27)),
    ],
)
def test_last_completed_session(at, session):
    assert marketcal.last_completed_session(at) == session
