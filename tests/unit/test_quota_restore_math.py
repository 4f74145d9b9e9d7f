"""The restore arithmetic (``ratelimits.restore``), pure: whatever grants were made, the state rebuilt from
their journal never lets a call go earlier than the lost state would have, at the free tiers' real shapes;
and it costs little: at most the journal's margin later on a day quota, at most one window on a minute one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratelimits import parse_policy
from ratelimits.periods import current_period
from ratelimits.restore import CLOCK_MARGIN_SECONDS, LEASE_SECONDS, full, journaled, rebuild, restored
from ratelimits.schedule import Bookings, book, next_slot
from runtime.plans import PROVIDER_PLANS

FREE = {provider: plans["free"].policy for provider, plans in PROVIDER_PLANS.items()}  # the free tiers
GUARD = 0.25
MAX_WAIT = 30.0
T0 = 1_795_000_000.0  # 2026-11-18, a Wednesday


def test_day_quotas_are_journaled_and_minute_ones_leased():
    assert {p: journaled(parse_policy(t)) for p, t in FREE.items()} == {
        "finnhub": False, "polygon": False, "yahoo": True, "alphavantage": True,
    }  # fmt: skip


def _history(policy, gaps: list[float], waits: list[float]):
    """Grants made one after another at the quota's pace, each asked for ``gap`` s after the previous
    answer and booked as ``acquire`` would (its journal entry: the decision, the latest it may book at)."""
    truth, grants, t = Bookings(), [], T0
    for gap, wait in zip(gaps, waits, strict=False):
        t += gap
        at = next_slot(policy, truth, t, GUARD)
        if at - t > wait:  # refused: nothing booked, its journal entry cancelled
            continue
        book(policy, truth, at)
        grants.append((t, t + wait + CLOCK_MARGIN_SECONDS, 1))
    return truth, grants, t


@pytest.mark.parametrize("provider", ["yahoo", "alphavantage"])
@settings(max_examples=80, deadline=None)
@given(
    gaps=st.lists(st.one_of(st.floats(0.0, 3.0), st.floats(0.0, 3600.0)), min_size=1, max_size=60),
    waits=st.lists(st.floats(0.0, MAX_WAIT), min_size=60, max_size=60),
    later=st.one_of(st.floats(0.0, 90.0), st.floats(0.0, 2 * 86400.0)),
)
def test_a_rebuilt_day_quota_never_grants_earlier_and_at_most_the_margin_later(provider, gaps, waits, later):
    policy = parse_policy(FREE[provider])
    truth, grants, t = _history(policy, gaps, waits)
    now = t + later  # Redis lost its data at some point; this is when it is restored
    rebuilt = rebuild(policy, grants, now, GUARD)
    real, again = next_slot(policy, truth, now, GUARD), next_slot(policy, rebuilt, now, GUARD)
    assert again >= real
    # At most the journal's margin later; unless an entry straddles a calendar reset (counted in both days,
    # which can push the next call to the next reset: the price of not knowing which side it fell on).
    straddles = any(
        current_period(w, e) != current_period(w, x) for w in policy.calendar for e, x, _ in grants
    )
    if not straddles:
        assert again <= real + MAX_WAIT + CLOCK_MARGIN_SECONDS + 1e-6


@pytest.mark.parametrize("provider", ["finnhub", "polygon"])
@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 120.0), min_size=1, max_size=80), later=st.floats(0.0, 1200.0))
def test_a_minute_quota_is_booked_full_only_while_a_lease_could_cover_a_booking(provider, gaps, later):
    policy = parse_policy(FREE[provider])
    truth, _, t = _history(policy, gaps, [MAX_WAIT] * len(gaps))
    leases = [(T0, T0 + LEASE_SECONDS, 0)]
    # a process renews its lease before it books past it
    while leases[-1][1] < t + MAX_WAIT + CLOCK_MARGIN_SECONDS:
        start = leases[-1][1] - MAX_WAIT - CLOCK_MARGIN_SECONDS
        leases.append((start, start + LEASE_SECONDS, 0))
    now = t + later
    rebuilt = restored(policy, leases, now, GUARD)
    real, again = next_slot(policy, truth, now, GUARD), next_slot(policy, rebuilt, now, GUARD)
    assert again >= real
    window = max(w.seconds for w in policy.windows)
    assert again <= now + window + GUARD + 1e-6  # one window at most


def test_nothing_journaled_restores_nothing_a_fresh_install_waits_for_nothing():
    for text in FREE.values():
        policy = parse_policy(text)
        empty = restored(policy, [], T0, GUARD)
        assert next_slot(policy, empty, T0, GUARD) == T0
        assert empty.last == -math.inf


def test_a_lease_long_over_restores_nothing():
    policy = parse_policy(FREE["polygon"])
    old = [(T0 - 3600.0, T0 - 3000.0, 0)]
    assert next_slot(policy, full(policy, old, T0, GUARD), T0, GUARD) == T0


def test_the_alpha_vantage_day_is_never_granted_fresh():
    """25 calls journaled this New York day: after the loss, the next call waits for the next day."""
    policy = parse_policy(FREE["alphavantage"])
    truth, grants, t = _history(policy, [2.0] * 30, [MAX_WAIT] * 30)
    assert sum(g[2] for g in grants) == 25
    rebuilt = rebuild(policy, grants, t + 60.0, GUARD)
    assert (
        next_slot(policy, rebuilt, t + 60.0, GUARD) >= next_slot(policy, truth, t + 60.0, GUARD) > t + 3600.0
    )
