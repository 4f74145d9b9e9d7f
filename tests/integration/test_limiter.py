"""The limiter against the real private Redis: the script's decisions, blocks, stats and errors.

Decision tables drive the real script with a fixed "now" (``test_now``); every expected instant is worked
out by hand from the policy, not read from the code.
"""

from __future__ import annotations

import math
import time

import pytest
import redis

from ratelimits import Limiter, QuotaWait, parse_policy

T0 = 1_781_000_000.0  # 2026-06-09 10:13:20 UTC
MIDNIGHT = 1_781_049_600.0  # 2026-06-10 00:00:00 UTC

# (now offset from T0, cost, max_wait) -> (booked, at offset from T0)
TABLES = [
    (
        "2/second",
        0.0,
        [
            ((0, 1, 5), (True, 0)),
            ((0, 1, 5), (True, 0)),
            ((0, 1, 5), (True, 1)),
            ((0, 1, 5), (True, 1)),
            ((0, 1, 0.5), (False, 2)),  # refused: books nothing ...
            ((0, 1, 5), (True, 2)),  # ... so the same slot is still free
            ((10, 1, 0), (True, 10)),
        ],
    ),
    (
        "2/second",
        0.25,
        [
            ((0, 1, 5), (True, 0)),
            ((0.5, 1, 5), (True, 0.5)),
            ((0.6, 1, 5), (True, 1.25)),  # first grant + 1 s + guard
            ((0.6, 1, 5), (True, 1.75)),
        ],
    ),
    (
        "2/second, 3/10 seconds",
        0.0,
        [
            ((0, 1, 30), (True, 0)),
            ((0, 1, 30), (True, 0)),
            ((0, 1, 30), (True, 1)),
            ((0, 1, 30), (True, 10)),  # the 10-s window binds
            ((0, 1, 30), (True, 10)),
            ((0, 1, 30), (True, 11)),
        ],
    ),
    (
        "5/second, 1/minute",
        0.0,
        [
            ((0, 1, 0), (True, 0)),
            ((1, 1, 1), (False, 60)),  # the minute refuses; the second window must not be charged
            ((2, 1, 0), (False, 60)),
            ((60, 1, 0), (True, 60)),
        ],
    ),
    (
        "5/second",
        0.0,
        [
            ((0, 3, 5), (True, 0)),
            ((0, 3, 5), (True, 1)),  # 3 + 3 > 5
            ((0, 2, 5), (True, 1)),
            ((0, 1, 5), (True, 2)),
            ((0, 5, 5), (True, 3)),  # a whole window's worth needs the last booking 1 s old
        ],
    ),
    (
        "1/second",
        0.0,
        [
            ((0, 1, 100), (True, 0)),
            ((0, 1, 100), (True, 1)),
            ((0, 1, 100), (True, 2)),
            ((0.5, 1, 100), (True, 3)),  # FIFO: after every earlier booking
            ((5, 1, 100), (True, 5)),
        ],
    ),
]


@pytest.mark.parametrize(("policy", "guard", "steps"), TABLES, ids=[t[0] + f" guard {t[1]}" for t in TABLES])
def test_decision_tables(redis_client, policy, guard, steps):
    limiter = Limiter(redis_client, guard=guard)
    p = parse_policy(policy)
    for (now, cost, max_wait), (booked, at) in steps:
        d = limiter.decide("prov", p, cost, max_wait, test_now=T0 + now)
        assert (d.booked, round(d.at - T0, 6), d.now) == (booked, at, T0 + now), (now, cost, max_wait)


CALENDAR_TABLES = [
    (
        "2/day@UTC",
        [
            ((-60, 1, 0), (True, -60)),
            ((-50, 1, 0), (True, -50)),
            ((-40, 1, 30), (False, 0.02)),  # next period starts at midnight (+ guard)
            ((-40, 1, 60), (True, 0.02)),
            ((10, 1, 0), (True, 10)),
            ((20, 1, 0), (False, 86400.02)),
        ],
    ),
    (
        # the strict reading of a daily cap: rolling 24 h AND the calendar day
        "2/day, 2/day@UTC",
        [
            ((-60, 1, 0), (True, -60)),
            ((-50, 1, 0), (True, -50)),
            ((30, 1, 0), (False, 86340.02)),  # new calendar day, but the rolling day is full
        ],
    ),
    (
        "3/day@UTC",
        [
            ((-60, 2, 0), (True, -60)),
            ((-50, 2, 120), (True, 0.02)),
            ((-40, 1, 120), (True, 0.02)),  # would fit today, but FIFO: not before the booking ahead of it
        ],
    ),
    (
        "3/day@UTC 00:30",
        [
            ((0, 2, 0), (True, 0)),  # 00:00 still belongs to yesterday's period (reset 00:30)
            ((60, 2, 3600), (True, 1800.02)),
            ((1900, 1, 0), (True, 1900)),
            ((1900, 1, 0), (False, 88200.02)),
        ],
    ),
]


@pytest.mark.parametrize(("policy", "steps"), CALENDAR_TABLES, ids=[t[0] for t in CALENDAR_TABLES])
def test_calendar_decision_tables(redis_client, policy, steps):
    limiter = Limiter(redis_client, guard=0.02)
    p = parse_policy(policy)
    for (now, cost, max_wait), (booked, at) in steps:
        d = limiter.decide("prov", p, cost, max_wait, test_now=MIDNIGHT + now)
        assert (d.booked, round(d.at - MIDNIGHT, 6)) == (booked, at), (now, cost, max_wait)


def test_reserve_books_without_sleeping_and_reports_the_wait(redis_client):
    limiter = Limiter(redis_client, guard=0.02, sleep=lambda s: pytest.fail("reserve must not sleep"))
    p = parse_policy("2/second")
    a, b, c = (limiter.reserve("prov", p, max_wait=5) for _ in range(3))
    assert a.wait == b.wait == 0.0
    assert c.at == pytest.approx(a.at + 1.02, abs=1e-6)
    assert 0.5 < c.wait <= 1.02
    with pytest.raises(QuotaWait) as info:
        limiter.reserve("prov", p, max_wait=0.1)
    assert info.value.until == pytest.approx(b.at + 1.02, abs=1e-6)
    assert info.value.provider == "prov"


def test_acquire_sleeps_the_redis_clock_wait(redis_client):
    slept = []
    limiter = Limiter(redis_client, guard=0.02, sleep=slept.append)
    p = parse_policy("1/second")
    first = limiter.acquire("prov", p)
    second = limiter.acquire("prov", p)
    assert first.wait == 0 and slept[:1] == [second.wait]
    assert 0.5 < second.wait <= 1.02
    assert second.at == pytest.approx(first.at + 1.02, abs=1e-6)


def test_a_block_reported_while_sleeping_voids_the_booked_slot(redis_client):
    p = parse_policy("1/second")
    blocks = []

    def sleep(seconds):
        if not blocks:  # another worker hits a 429 while this one sleeps
            blocks.append(limiter.report_throttle("prov", p, retry_after=1.5))
        time.sleep(seconds)

    limiter = Limiter(redis_client, guard=0.02, sleep=sleep)
    first = limiter.acquire("prov", p)
    second = limiter.acquire("prov", p, max_wait=10)
    assert second.at >= blocks[0] > first.at + 1.02
    assert limiter.stats("prov", p).violations == 1


def test_report_throttle_blocks_every_worker_and_counts_a_violation(redis_client):
    p = parse_policy("30/second, 60/minute")
    one, two = Limiter(redis_client), Limiter(redis_client)
    now = float(redis_client.time()[0])
    until = one.report_throttle("prov", p)  # no advice: the shortest window
    assert now + 1 <= until <= now + 3
    assert two.blocked_until("prov") == until
    with pytest.raises(QuotaWait) as info:
        two.reserve("prov", p, max_wait=0)
    assert info.value.until == pytest.approx(until, abs=1e-6)
    assert two.reserve("prov", p, max_wait=5).at >= until
    longer = one.report_throttle("prov", p, retry_after=120, reason="429 retry-after")
    assert longer == pytest.approx(now + 120, abs=3)
    # a shorter block never shortens the one in force
    assert one.report_throttle("prov", p, retry_after=1) == longer
    s = two.stats("prov", p)
    assert (s.violations, s.blocked_until, s.block_reason) == (3, longer, "429 retry-after")


def test_exhausted_blocks_until_the_calendar_reset(redis_client):
    p = parse_policy("1/second, 25/day, 25/day@UTC")
    limiter = Limiter(redis_client)
    now = float(redis_client.time()[0])
    until = limiter.report_throttle("prov", p, exhausted=True, reason="daily cap")
    assert until == (now // 86400 + 1) * 86400


def test_operator_block_until_unblocked(redis_client):
    p = parse_policy("5/second")
    limiter = Limiter(redis_client)
    assert limiter.block("prov") == math.inf
    with pytest.raises(QuotaWait) as info:
        limiter.reserve("prov", p, max_wait=1e9)
    assert info.value.until == math.inf and "unblocks" in str(info.value)
    s = limiter.stats("prov", p)
    assert (s.blocked_until, s.block_reason, s.violations) == (math.inf, "paused by operator", 0)
    limiter.unblock("prov")
    assert limiter.blocked_until("prov") is None
    assert limiter.reserve("prov", p).wait == 0


def test_a_timed_block_expires_by_itself(redis_client):
    limiter = Limiter(redis_client)
    until = limiter.block("prov", seconds=0.3, reason="short")
    assert limiter.blocked_until("prov") == until
    time.sleep(0.4)
    assert limiter.blocked_until("prov") is None


def test_stats_from_redis_alone(redis_client):
    p = parse_policy("3/second, 10/minute, 9/day@UTC")
    limiter = Limiter(redis_client, guard=0.02)
    grants = [limiter.reserve("prov", p, max_wait=5) for _ in range(4)]
    with pytest.raises(QuotaWait):
        limiter.reserve("prov", p, max_wait=0)
    s = Limiter(redis_client, guard=0.02).stats("prov", p)  # another process's view
    assert [(w.text, w.limit, w.seconds) for w in s.windows] == [
        ("3/second", 3, 1.0),
        ("10/minute", 10, 60.0),
        ("9/day@UTC", 9, 86400.0),
    ]
    # the fourth, booked for a later instant, counts (it is committed); a rolling window shows at most its limit
    assert [w.used for w in s.windows] == [3, 4, 4]
    assert s.windows[0].next_reset == pytest.approx(grants[1].at + 1.02, abs=1e-6)  # oldest of the 3 tracked
    assert s.windows[2].next_reset == (s.at // 86400 + 1) * 86400
    assert (s.granted, s.waited, s.refused, s.violations) == (4, 1, 1, 0)
    assert s.wait_seconds == pytest.approx(grants[3].wait, abs=1e-5)
    assert s.blocked_until is None and s.block_reason is None


def test_known_providers(redis_client):
    limiter = Limiter(redis_client)
    assert limiter.known_providers() == []
    limiter.reserve("polygon", parse_policy("5/minute"))
    limiter.block("yahoo", 10)
    assert Limiter(redis_client).known_providers() == ["polygon", "yahoo"]


def test_every_key_of_a_provider_shares_its_hash_tag(redis_client):
    limiter = Limiter(redis_client, key_prefix="tb:quota")
    p = parse_policy("3/second, 10/minute, 9/day@America/New_York")
    limiter.reserve("finnhub", p)
    limiter.report_throttle("finnhub", p, retry_after=5)
    keys = {k.decode() for k in redis_client.keys("*")} - {"tb:quota:providers"}
    assert len(keys) == 5 and all(k.startswith("tb:quota:{finnhub}:") for k in keys), keys


def test_works_with_decoded_responses_and_after_a_script_flush(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    limiter = Limiter(client)
    p = parse_policy("2/second, 3/day@UTC")
    assert limiter.reserve("prov", p).wait == 0
    client.script_flush()  # NOSCRIPT: the script is loaded again
    assert limiter.reserve("prov", p).wait == 0
    assert limiter.stats("prov", p).windows[1].used == 2
    assert limiter.known_providers() == ["prov"]
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cost": 0}, ValueError, "cost"),
        ({"cost": 6}, ValueError, "from 1 to 5"),
        ({"cost": True}, ValueError, "cost"),
        ({"cost": 1.5}, ValueError, "cost"),
        ({"max_wait": -1}, ValueError, "max_wait"),
        ({"max_wait": float("nan")}, ValueError, "max_wait"),
        ({"provider": "fin{hub}"}, ValueError, "provider name"),
        ({"provider": ""}, ValueError, "provider name"),
        ({"policy": "5/second"}, TypeError, "parse_policy"),
    ],
)
def test_caller_mistakes_are_clear_errors(redis_client, kwargs, error, match):
    args = {
        "provider": "prov",
        "policy": parse_policy("5/second, 9/minute"),
        "cost": 1,
        "max_wait": 1.0,
    } | kwargs
    with pytest.raises(error, match=match):
        Limiter(redis_client).reserve(**args)
    assert redis_client.dbsize() == 0  # nothing booked, nothing registered


@pytest.mark.parametrize("guard", [-0.1, float("inf"), float("nan"), "0.02"])
def test_bad_guard(redis_client, guard):
    with pytest.raises(ValueError, match="guard"):
        Limiter(redis_client, guard=guard)
