"""Admission and capacity arithmetic, from tables worked out by hand."""

import pytest

import beat_schedule
from planning import admit, calls_in, capacity_plan, work_for
from planning.admission import priority_order, remaining_calls
from planning.capacity import tier_counts
from ratelimits import ProviderStats, WindowStats, parse_policy


@pytest.mark.parametrize(
    ("policy", "seconds", "expected"),
    [
        ("5/minute", 60, 5),
        ("5/minute", 61, 10),  # a second minute starts inside the horizon
        ("5/minute", 3 * 3600, 900),
        ("30/second, 60/minute", 55 * 60, 3300),  # the minute window binds
        ("30/second, 60/minute", 0.5, 30),  # the second window binds
        ("1/second, 25/day, 25/day@America/New_York", 3 * 3600, 25),
        ("5/minute", 0, 0),
    ],
)
def test_calls_in(policy, seconds, expected):
    assert calls_in(parse_policy(policy), seconds) == expected


def _stats(windows, blocked_until=None, at=1000.0):
    return ProviderStats("p", windows, blocked_until, None, 0, 0, 0.0, 0, 0, at=at)


@pytest.mark.parametrize(
    ("policy", "used", "next_resets", "blocked_until", "seconds", "expected"),
    [
        ("5/minute", [0], [None], None, 120, 5 + 10),
        ("5/minute", [5], [1030.0], None, 120, 0 + 10),
        ("5/minute", [2], [1030.0], 1060.0, 120, 3 + 5),  # 60 s blocked: one minute of horizon left
        ("5/minute", [0], [None], float("inf"), 3600, 0),  # paused by an operator
        ("25/day@America/New_York", [20], [1000.0 + 3600], None, 1800, 5),  # reset beyond the horizon
        ("25/day@America/New_York", [25], [1000.0 + 3600], None, 7200, 25),  # one reset inside
    ],
)
def test_remaining_calls(policy, used, next_resets, blocked_until, seconds, expected):
    p = parse_policy(policy)
    windows = [
        WindowStats(w.text, w.limit, w.seconds, u, r)
        for w, u, r in zip(p.windows, used, next_resets, strict=True)
    ]
    assert remaining_calls(p, _stats(windows, blocked_until), seconds) == expected


def test_admit_and_priority():
    order = priority_order({2: ["B1", "B2"], 1: ["A1", "A2"]}, carried=["B2", "C9"])
    assert order == ["B2", "C9", "A1", "A2", "B1"]
    a = admit(order, 3)
    assert a.admitted == ("B2", "C9", "A1") and a.carried == ("A2", "B1")
    assert admit(order, -1).admitted == ()


def test_tier_counts_follow_the_seed():
    assert tier_counts(6500) == {1: 500, 2: 1500, 3: 2000, 4: 2500}
    assert tier_counts(300) == {1: 300, 2: 0, 3: 0, 4: 0}


def test_free_tier_day_fits_and_a_tight_quota_does_not():
    free = {
        "finnhub": parse_policy("30/second, 60/minute"),
        "polygon": parse_policy("5/minute"),
        "alphavantage": parse_policy("1/second, 25/day, 25/day@America/New_York"),
        "yahoo": parse_policy("1/second, 30/minute, 1000/day"),
    }
    rows = capacity_plan(work_for(beat_schedule.entries("bulk-first"), 6500), free)
    assert all(r.fits for r in rows), [
        (r.work.entry, r.work.provider, r.work.calls, r.capacity) for r in rows
    ]
    tight = dict(free, finnhub=parse_policy("30/minute"))
    rows = capacity_plan(work_for(beat_schedule.entries("bulk-first"), 6500), tight)
    assert not all(r.fits for r in rows)
    close = next(r for r in rows if r.work.entry == "tier2-quotes-close")
    assert close.capacity == 30 * 55 and not close.fits


def test_tiers_by_dollar_volume_with_pins():
    from planning.tiers import assign_tiers

    volume = {"A": 100.0, "B": 300.0, "C": 200.0, "D": float("nan"), "E": 50.0}
    got = assign_tiers(volume, pins={"E": 1}, sizes=(2, 2, None))
    # E is pinned into tier 1 and takes one of its two places; B is the most traded of the rest.
    assert got == {"E": 1, "B": 1, "C": 2, "A": 2, "D": 3}
    with pytest.raises(ValueError, match="pinned tier 9"):
        assign_tiers(volume, pins={"A": 9}, sizes=(2, None))


def test_the_seed_plan_is_expressible_and_fits_the_free_tiers():
    free = {
        "finnhub": parse_policy("30/second, 60/minute"),
        "polygon": parse_policy("5/minute"),
        "alphavantage": parse_policy("1/second, 25/day, 25/day@America/New_York"),
        "yahoo": parse_policy("1/second, 30/minute, 1000/day"),
    }
    work = {w.entry: w for w in work_for(beat_schedule.entries("seed"), 6500)}
    # the seed's table: tier 1 hourly from Finnhub, 20 tier-2 symbols a day from Alpha Vantage,
    # 100 tier-3 symbols a day from Polygon, tier 4 weekly from Yahoo
    assert (
        work["seed-tier1-hourly"].provider,
        work["seed-tier1-hourly"].calls,
        work["seed-tier1-hourly"].runs,
    ) == ("finnhub", 500, 7)
    assert (work["seed-tier2-rotation"].provider, work["seed-tier2-rotation"].calls) == ("alphavantage", 20)
    assert (work["seed-tier3-subset"].provider, work["seed-tier3-subset"].calls) == ("polygon", 100)
    assert (work["seed-tier4-weekly"].provider, work["seed-tier4-weekly"].calls) == ("yahoo", 500)
    rows = capacity_plan(list(work.values()), free)
    assert all(r.fits for r in rows), [(r.work.entry, r.work.calls, r.capacity) for r in rows if not r.fits]
    # a tighter Yahoo pace would not serve a fifth of tier 4 in the entry's three hours
    tight = capacity_plan(list(work.values()), dict(free, yahoo=parse_policy("2/minute")))
    assert [r.work.entry for r in tight if not r.fits] == ["seed-tier4-weekly"]
