"""Calendar-day arithmetic and feedback-block instants, from tables of wall-clock facts.

Expected instants are written as UTC wall times worked out by hand from the zones' rules (e.g. New York
springs forward at 02:00 EST on 2026-03-08 and falls back at 02:00 EDT on 2026-11-01).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratelimits import parse_policy
from ratelimits.periods import (
    DAYS_AFTER,
    DAYS_BEFORE,
    current_period,
    next_reset,
    period_starts,
    starts_for_decision,
    throttle_until,
)


def ts(text: str) -> float:
    """Epoch seconds of a UTC wall time 'YYYY-MM-DD HH:MM[:SS]'."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()


def window(text: str):
    (w,) = parse_policy(text).windows
    return w


@pytest.mark.parametrize(
    ("spec", "now", "start", "end", "hours"),
    [
        # UTC midnight
        ("9/day@UTC", "2026-06-15 12:00", "2026-06-15 00:00", "2026-06-16 00:00", 24),
        ("9/day@UTC", "2026-06-15 00:00", "2026-06-15 00:00", "2026-06-16 00:00", 24),
        ("9/day@UTC", "2026-06-14 23:59:59", "2026-06-14 00:00", "2026-06-15 00:00", 24),
        # New York, ordinary winter and summer days
        ("9/day@America/New_York", "2026-01-10 03:00", "2026-01-09 05:00", "2026-01-10 05:00", 24),
        ("9/day@America/New_York", "2026-07-04 16:00", "2026-07-04 04:00", "2026-07-05 04:00", 24),
        # spring forward: Sunday 2026-03-08 lasts 23 h
        ("9/day@America/New_York", "2026-03-08 12:00", "2026-03-08 05:00", "2026-03-09 04:00", 23),
        # fall back: Sunday 2026-11-01 lasts 25 h
        ("9/day@America/New_York", "2026-11-01 12:00", "2026-11-01 04:00", "2026-11-02 05:00", 25),
        ("9/day@America/New_York", "2026-11-02 04:30", "2026-11-01 04:00", "2026-11-02 05:00", 25),
        # reset 04:30 local: before the reset the period is yesterday's
        ("9/day@America/New_York 04:30", "2026-01-10 09:00", "2026-01-09 09:30", "2026-01-10 09:30", 24),
        ("9/day@America/New_York 04:30", "2026-01-10 09:30", "2026-01-10 09:30", "2026-01-11 09:30", 24),
        # ... and across the spring-forward night: 04:30 EST Saturday to 04:30 EDT Sunday is 23 h
        ("9/day@America/New_York 04:30", "2026-03-08 06:00", "2026-03-07 09:30", "2026-03-08 08:30", 23),
        ("9/day@America/New_York 04:30", "2026-11-01 09:00", "2026-10-31 08:30", "2026-11-01 09:30", 25),
        # a reset inside the spring-forward gap (02:30 does not exist): read with the EST offset = 03:30 EDT
        ("9/day@America/New_York 02:30", "2026-03-08 07:45", "2026-03-08 07:30", "2026-03-09 06:30", 23),
        # a reset that happens twice (01:30 on fall-back night): the first occurrence (EDT)
        ("9/day@America/New_York 01:30", "2026-11-01 05:45", "2026-11-01 05:30", "2026-11-02 06:30", 25),
        # zones east of UTC and with half-hour offsets
        ("9/day@Asia/Tokyo", "2026-05-01 10:00", "2026-04-30 15:00", "2026-05-01 15:00", 24),
        ("9/day@Asia/Kolkata 06:00", "2026-05-01 00:00", "2026-04-30 00:30", "2026-05-01 00:30", 24),
        ("9/day@Europe/London", "2026-03-29 12:00", "2026-03-29 00:00", "2026-03-29 23:00", 23),
        # Lord Howe moves its clocks by 30 minutes
        ("9/day@Australia/Lord_Howe", "2026-04-05 12:00", "2026-04-04 13:00", "2026-04-05 13:30", 24.5),
    ],
)
def test_calendar_periods(spec, now, start, end, hours):
    w = window(spec)
    assert current_period(w, ts(now)) == ts(start)
    assert next_reset(w, ts(now)) == ts(end)
    assert (ts(end) - ts(start)) / 3600 == hours


@settings(max_examples=200, deadline=None)
@given(
    around=st.floats(min_value=ts("2000-01-01 00:00"), max_value=ts("2037-12-31 00:00")),
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"]),
    reset=st.integers(min_value=0, max_value=1439),
)
def test_period_starts_cover_the_range_with_days_of_23_to_25_hours(around, zone, reset):
    starts = period_starts(zone, reset, around)
    assert starts[0] <= around - DAYS_BEFORE * 86400
    assert starts[-1] >= around + (DAYS_AFTER - 1) * 86400
    lengths = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(22.9 * 3600 <= length <= 25.1 * 3600 for length in lengths)


NY_FREE = "1/second, 25/day, 25/day@America/New_York"


@pytest.mark.parametrize(
    ("policy", "now", "retry_after", "exhausted", "until"),
    [
        ("30/second, 60/minute", 1000.0, 5.0, False, 1005.0),
        ("30/second, 60/minute", 1000.0, 0.0, False, 1000.0),
        ("30/second, 60/minute", 1000.0, 7.5, True, 1007.5),  # the provider's advice wins
        ("30/second, 60/minute", 1000.0, None, False, 1001.0),  # shortest window
        ("30/second, 60/minute", 1000.0, None, True, 1060.0),  # longest window, rolling
        ("5/minute", 1000.0, None, False, 1060.0),
        ("1/second, 30/minute, 1000/day", 1000.0, None, True, 87400.0),
        (NY_FREE, ts("2026-03-08 12:00"), None, True, ts("2026-03-09 04:00")),  # calendar reset, 23-h day
        (NY_FREE, ts("2026-03-08 12:00"), None, False, ts("2026-03-08 12:00:01")),
        ("25/day@America/New_York 04:30", ts("2026-01-10 09:00"), None, False, ts("2026-01-10 09:30")),
        ("25/day@America/New_York 04:30", ts("2026-01-10 09:00"), None, True, ts("2026-01-10 09:30")),
        ("5/day@UTC, 6/day@Asia/Tokyo", ts("2026-05-01 10:00"), None, True, ts("2026-05-02 00:00")),
        ("5/day@UTC, 6/day@Asia/Tokyo", ts("2026-05-01 16:00"), None, True, ts("2026-05-02 15:00")),
    ],
)
def test_throttle_until(policy, now, retry_after, exhausted, until):
    assert throttle_until(parse_policy(policy), now, retry_after, exhausted) == until


@pytest.mark.parametrize("retry_after", [-1.0, float("nan")])
def test_throttle_until_rejects_nonsense_retry_after(retry_after):
    with pytest.raises(ValueError, match="retry_after"):
        throttle_until(parse_policy("5/minute"), 1000.0, retry_after)


@pytest.mark.parametrize(
    ("spec", "now", "max_wait", "first", "last"),
    [
        ("9/day@UTC", "2026-06-15 12:00", 30.0, "2026-06-14 00:00", "2026-06-17 00:00"),
        ("9/day@UTC", "2026-06-15 12:00", 86400.0, "2026-06-14 00:00", "2026-06-18 00:00"),
        ("9/day@America/New_York", "2026-03-08 12:00", 30.0, "2026-03-07 05:00", "2026-03-10 04:00"),
        ("9/day@UTC", "2026-06-15 12:00", 1e18, "2026-06-14 00:00", "2026-06-23 00:00"),  # all it has
    ],
)
def test_starts_for_decision_cover_a_day_of_skew_and_the_wait(spec, now, max_wait, first, last):
    starts = starts_for_decision(window(spec), ts(now), max_wait)
    assert (starts[0], starts[-1]) == (ts(first), ts(last))
