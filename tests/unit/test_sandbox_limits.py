"""The sandbox's limit arithmetic: sliding windows, calendar-day quotas, sticky blocks (pure, no server)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sandbox.limits import ADMITTED, BLOCKED, DAILY, WINDOW, Limiter, day_of
from sandbox.profiles import DailyQuota, Limits, Window

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=NY).timestamp()


def run(limits: Limits, offsets: list[float], client: str = "k") -> list[str]:
    limiter = Limiter(limits)
    return [limiter.admit(client, T0 + dt).verdict for dt in offsets]


A, W, D, B = ADMITTED, WINDOW, DAILY, BLOCKED


@pytest.mark.parametrize(
    ("limits", "offsets", "expected"),
    [
        # 5/minute: the 6th call inside the minute is refused
        (Limits((Window(5, 60),)), [0, 1, 2, 3, 4, 5], [A, A, A, A, A, W]),
        # sliding, not fixed: a call exactly one window after the first is admitted again
        (Limits((Window(2, 60),)), [0, 30, 59.999, 60.0], [A, A, W, A]),
        # refused calls do not count: after the refusal, the window is judged on admitted calls only
        (Limits((Window(1, 10),)), [0, 5, 9, 10, 15, 19.9, 20], [A, W, W, A, W, W, A]),
        # two windows: the per-second window refuses the 3rd call at one instant ...
        (Limits((Window(2, 1), Window(3, 60))), [0, 0, 0], [A, A, W]),
        # ... and the per-minute window refuses the 4th once the second has passed
        (Limits((Window(2, 1), Window(3, 60))), [0, 0, 1, 2, 61], [A, A, A, W, A]),
        # daily quota of 3 (New York calendar day): the 4th call is refused until midnight ET
        (Limits(daily=DailyQuota(3)), [0, 1, 2, 3, 9 * 3600 - 1, 9 * 3600 + 1], [A, A, A, D, D, A]),
        # burst 1/second with a daily quota: the daily refusal wins once the day is used up
        (Limits((Window(1, 1),), daily=DailyQuota(2)), [0, 0.5, 1, 2], [A, W, A, D]),
        # no limits at all
        (Limits(), [0] * 50, [A] * 50),
    ],
)
def test_limit_decisions(limits, offsets, expected):
    assert run(limits, offsets) == expected


def test_sticky_block_outlasts_the_window():
    # Yahoo: 3/minute, then a 300 s block that holds even once the window would admit again.
    limits = Limits((Window(3, 60),), block_seconds=300)
    offsets = [0, 1, 2, 3, 70, 200, 299, 303.5, 304]
    assert run(limits, offsets) == [A, A, A, B, B, B, B, A, A]


def test_block_does_not_extend_while_the_client_keeps_calling():
    limiter = Limiter(Limits((Window(1, 60),), block_seconds=100))
    assert limiter.admit("ip", T0).admitted
    first = limiter.admit("ip", T0 + 1)
    assert first.verdict == BLOCKED and first.retry_at == pytest.approx(T0 + 101)
    for dt in range(2, 100, 7):
        assert limiter.admit("ip", T0 + dt).verdict == BLOCKED
    assert limiter.admit("ip", T0 + 101).admitted


def test_clients_are_counted_apart_and_reset_forgets():
    limiter = Limiter(Limits((Window(1, 60),)))
    assert limiter.admit("a", T0).admitted
    assert limiter.admit("b", T0).admitted
    assert limiter.admit("a", T0 + 1).verdict == WINDOW
    limiter.reset()
    assert limiter.admit("a", T0 + 1).admitted


def test_retry_at_is_when_the_oldest_call_leaves_the_window():
    limiter = Limiter(Limits((Window(2, 60),)))
    limiter.admit("k", T0)
    limiter.admit("k", T0 + 10)
    refused = limiter.admit("k", T0 + 20)
    assert refused.verdict == WINDOW and refused.retry_at == pytest.approx(T0 + 60)


@pytest.mark.parametrize(
    ("local", "zone", "reset", "expected"),
    [
        ((2026, 11, 24, 23, 59), "America/New_York", "00:00", "2026-11-24"),
        ((2026, 11, 25, 0, 0), "America/New_York", "00:00", "2026-11-25"),
        # a 05:00 reset: 04:59 still belongs to the previous quota day
        ((2026, 11, 25, 4, 59), "America/New_York", "05:00", "2026-11-24"),
        ((2026, 11, 25, 5, 0), "America/New_York", "05:00", "2026-11-25"),
        # DST change day in New York (2026-03-08): still one quota day
        ((2026, 3, 8, 1, 30), "America/New_York", "00:00", "2026-03-08"),
        ((2026, 3, 8, 23, 30), "America/New_York", "00:00", "2026-03-08"),
        # a UTC day: 20:00 New York in winter is already the next UTC day
        ((2026, 11, 24, 20, 0), "UTC", "00:00", "2026-11-25"),
    ],
)
def test_quota_day(local, zone, reset, expected):
    now = datetime(*local, tzinfo=NY).timestamp()
    assert day_of(now, DailyQuota(25, zone=zone, reset=reset)) == expected
