"""The quota's booking rule as pure arithmetic (ratelimits/schedule.py), from tables worked out by hand."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ratelimits import Bookings, capacity_within, earliest_schedule, next_slot, parse_policy, quota_floor
from ratelimits.schedule import book

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("policy", "n", "guard", "expected"),
    [
        # a burst of 5, then each next 5 one window + guard after the burst they follow
        ("5/minute", 12, 0.25, [0.0] * 5 + [60.25] * 5 + [120.5] * 2),
        # 30 per second inside 60 per minute: 30 now, 30 a second later, then the minute refills
        ("30/second, 60/minute", 62, 0.25, [0.0] * 30 + [1.25] * 30 + [60.25, 60.25]),
        # one per second with no burst at all
        ("1/second", 4, 0.0, [0.0, 1.0, 2.0, 3.0]),
    ],
)
def test_earliest_schedule_is_a_burst_then_the_refill(policy, n, guard, expected):
    assert earliest_schedule(parse_policy(policy), n, 0.0, guard) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "n", "guard", "floor"),
    [
        ("5/minute", 500, 0.25, 99 * 60.25),  # the two-year history at the free Polygon pace
        ("5/minute", 5, 0.25, 0.0),  # one burst
        ("5/minute", 1, 0.25, 0.0),
        ("30/second, 60/minute", 2000, 0.25, 33 * 60.25),  # a 2,000-quote close sweep on free Finnhub
        ("30/second, 60/minute", 150, 0.25, 2 * 60.25),
    ],
)
def test_quota_floor(policy, n, guard, floor):
    assert quota_floor(parse_policy(policy), n, guard) == pytest.approx(floor)


def test_a_calendar_day_cap_pushes_to_the_next_local_day():
    policy = parse_policy("25/day@America/New_York")
    start = datetime(2026, 11, 20, 9, 30, tzinfo=NY).timestamp()
    schedule = earliest_schedule(policy, 26, start, guard=0.5)
    assert schedule[24] == start  # 25 at once
    assert schedule[25] == datetime(2026, 11, 21, 0, 0, tzinfo=NY).timestamp() + 0.5


@pytest.mark.parametrize(
    ("booked", "now", "horizon", "expected"),
    [
        ([], 0.0, 20.0, 5),  # idle: the whole burst
        ([0.0] * 5, 10.0, 20.0, 0),  # the next slot (60.25) is beyond 10 + 20
        ([0.0] * 5, 45.0, 20.0, 5),  # ... and within 45 + 20
        ([0.0, 0.0, 0.0, 30.0, 30.0], 45.0, 20.0, 3),  # three free at 60.25, two only at 90.25
        ([0.0, 0.0, 0.0, 30.0, 30.0], 75.0, 20.0, 5),
    ],
)
def test_capacity_within_a_horizon(booked, now, horizon, expected):
    policy = parse_policy("5/minute")
    bookings = Bookings(
        rolling={policy.windows[0].identity: list(booked)}, last=max(booked, default=-math.inf)
    )
    assert capacity_within(policy, bookings, now, horizon, guard=0.25) == expected
    assert bookings.rolling[policy.windows[0].identity] == booked  # the trial never touches the original


def test_a_block_holds_everything_back_until_it_ends():
    policy = parse_policy("5/minute")
    blocked = Bookings(blocked_until=100.0)
    assert capacity_within(policy, blocked, 0.0, 20.0) == 0
    assert capacity_within(policy, blocked, 90.0, 20.0) == 5
    assert next_slot(policy, Bookings(blocked_until=math.inf), 0.0) == math.inf
    assert capacity_within(policy, Bookings(blocked_until=math.inf), 0.0, 1e9) == 0


def test_callers_are_served_in_order_never_before_the_last_booking():
    policy = parse_policy("100/second")
    bookings = Bookings()
    book(policy, bookings, 50.0)
    assert next_slot(policy, bookings, 10.0) == 50.0
