"""Property test of the real Lua script: for random policies and arrival patterns, the granted timeline
never has more than N units in any interval of length W (plus the guard), checked by brute force.

The script runs on the real private Redis with a fake clock (``test_now``), so no wall time passes.
"""

from __future__ import annotations

import itertools
import math

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ratelimits import Limiter, parse_policy

MIDNIGHT = 1_781_049_600.0  # 2026-06-10 00:00:00 UTC
EPS = 1e-5  # instants travel as strings with 6 decimals
_names = itertools.count()


@st.composite
def scenarios(draw):
    lengths = draw(
        st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0]), min_size=1, max_size=3, unique=True)
    )
    rolling = [(draw(st.integers(1, 6)), w) for w in lengths]
    daily = draw(st.one_of(st.none(), st.integers(1, 8)))
    text = ", ".join(f"{n}/{w:g} seconds" for n, w in rolling) + (f", {daily}/day@UTC" if daily else "")
    max_cost = min([n for n, _ in rolling] + ([daily] if daily else []))
    guard = draw(st.sampled_from([0.0, 0.02, 0.3]))
    start = MIDNIGHT - draw(st.floats(0, 30))  # calendar periods roll over during the run
    requests = draw(
        st.lists(
            st.tuples(
                st.one_of(st.just(0.0), st.floats(0, 2.5)),  # gap since the previous arrival, seconds
                st.integers(1, max_cost),
                st.sampled_from([0.0, 0.5, 3.0, 20.0, 1e6]),  # max_wait
            ),
            min_size=1,
            max_size=40,
        )
    )
    return text, rolling, daily, guard, start, requests


def check(rolling, daily, guard, arrivals, decisions):
    """Brute-force checks of one run, independent of the script: bounds, FIFO, windows, tightness."""
    booked = []
    for (now, cost, max_wait), d in zip(arrivals, decisions, strict=True):
        if d.booked:
            assert now - EPS <= d.at <= now + max_wait + EPS, "granted outside [now, now + max_wait]"
            booked.append((d.at, cost, now))
        else:
            assert d.at > now + max_wait - EPS, "refused although a slot within max_wait was free"
            if not daily and max_wait >= 1e6:
                raise AssertionError("a rolling-only policy refused an unbounded wait")
    times = [at for at, _, _ in booked]
    assert times == sorted(times), "not served in arrival order"
    for limit, length in rolling:
        span = length + guard - EPS
        for at, _, _ in booked:
            units = sum(c for t, c, _ in booked if at <= t < at + span)
            assert units <= limit, f"{units} units within {length} s + guard of {at} (limit {limit})"
    if daily:
        per_day: dict[int, int] = {}
        for at, cost, _ in booked:
            per_day[math.floor(at / 86400)] = per_day.get(math.floor(at / 86400), 0) + cost
        assert max(per_day.values(), default=0) <= daily, per_day
    # Tightness: a grant that waits waits for a reason: the previous booking, a window's oldest relevant
    # booking leaving it, or the start of the next calendar day.
    for i, (at, _, now) in enumerate(booked):
        if at <= now + EPS:
            continue
        reasons = [t for t, _, _ in booked[:i]]
        reasons += [t + length + guard for t, _, _ in booked[:i] for _, length in rolling]
        reasons += [math.floor(at / 86400) * 86400 + guard] if daily else []
        assert any(abs(at - r) < EPS for r in reasons), f"grant at {at} waited for no reason"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_granted_timeline_never_exceeds_any_window(redis_server, scenario):
    text, rolling, daily, guard, start, requests = scenario
    client = redis.Redis.from_url(redis_server.url)
    limiter = Limiter(client, guard=guard)
    policy = parse_policy(text)
    provider = f"prop{next(_names)}"
    now, arrivals, decisions = start, [], []
    for gap, cost, max_wait in requests:
        now += gap
        arrivals.append((now, cost, max_wait))
        decisions.append(limiter.decide(provider, policy, cost, max_wait, test_now=now))
    client.close()
    check(rolling, daily, guard, arrivals, decisions)


def test_the_checker_catches_a_violation():
    """The brute-force checker is not vacuous: an over-booked timeline fails it."""

    class D:
        def __init__(self, at):
            self.booked, self.at = True, at

    arrivals = [(100.0, 1, 0.0), (100.5, 1, 0.0)]
    try:
        check([(1, 1.0)], None, 0.0, arrivals, [D(100.0), D(100.5)])
    except AssertionError as exc:
        assert "units within" in str(exc)
    else:
        raise AssertionError("two grants 0.5 s apart passed a 1/second check")
