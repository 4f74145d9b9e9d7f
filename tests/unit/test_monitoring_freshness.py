"""When a session's bars are due and how stale the newest bar is (monitoring/freshness.py), from tables.

November 2026: Fri 20, Mon 23 .. Wed 25 are sessions, Thu 26 is Thanksgiving (closed), Fri 27 a half day
(close 13:00 New York), then a weekend; New York is UTC-5 (EST).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from monitoring.freshness import bar_age_seconds, bars_deadline, expected_bar_day, staleness_seconds

NY = ZoneInfo("America/New_York")
HOUR = 3600.0


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NY)


def test_bars_are_due_at_six_new_york_the_next_day():
    assert bars_deadline(date(2026, 11, 27)) == ny(28, 6)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(24, 5, 59), date(2026, 11, 20)),  # Monday's bars are not due yet: Friday's are expected
        (ny(24, 6, 0), date(2026, 11, 23)),
        (ny(27, 12, 0), date(2026, 11, 25)),  # Thanksgiving has no session
        (ny(28, 5, 0), date(2026, 11, 25)),  # the half day's bars are due at 06:00
        (ny(30, 10, 0), date(2026, 11, 27)),  # through the weekend
    ],
)
def test_expected_bar_day(now, expected):
    assert expected_bar_day(now) == expected


@pytest.mark.parametrize(
    ("newest", "now", "expected"),
    [
        (date(2026, 11, 27), ny(30, 10), 0.0),  # current over the weekend
        (date(2026, 11, 25), ny(27, 12), 0.0),  # Friday's session has not closed yet
        (date(2026, 11, 25), ny(28, 10), 21 * HOUR),  # since Friday's 13:00 close
        (date(2026, 11, 20), ny(25, 16), 48 * HOUR),  # since Monday's 16:00 close
        (None, ny(25, 16), math.inf),
    ],
)
def test_staleness_counts_from_the_first_uncovered_close(newest, now, expected):
    assert staleness_seconds(newest, now) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("newest", "now", "expected"),
    [
        (date(2026, 11, 20), ny(23, 16), 72 * HOUR),  # grows over the weekend
        (date(2026, 11, 27), ny(27, 14), 1 * HOUR),  # a half day closes at 13:00
        (date(2026, 11, 21), ny(22, 16), 24 * HOUR),  # a bar dated on a Saturday: 16:00 that day
        (None, ny(23, 16), math.inf),
    ],
)
def test_bar_age_counts_from_the_newest_close(newest, now, expected):
    assert bar_age_seconds(newest, now) == pytest.approx(expected)
