"""Admission and capacity arithmetic, from tables worked out by hand."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import beat_schedule
from planning import DailyWork, admit, calls_in, capacity_plan, history_sessions, simulate_day, work_for
from planning.admission import priority_order
from planning.capacity import tier_sizes
from planning.history import history_backfill
from ratelimits import parse_policy


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


def test_admit_and_priority():
    order = priority_order({2: ["B1", "B2"], 1: ["A1", "A2"]}, carried=["B2", "C9"])
    assert order == ["B2", "C9", "A1", "A2", "B1"]
    a = admit(order, 3)
    assert a.admitted == ("B2", "C9", "A1") and a.carried == ("A2", "B1")
    assert admit(order, -1).admitted == ()


def test_tier_sizes_follow_the_seed():
    assert tier_sizes(6500) == {1: 500, 2: 1500, 3: 2000, 4: 2500}
    assert tier_sizes(300) == {1: 300, 2: 0, 3: 0, 4: 0}


def test_tiers_by_dollar_volume_with_pins():
    from planning.tiers import assign_tiers

    volume = {"A": 100.0, "B": 300.0, "C": 200.0, "D": float("nan"), "E": 50.0}
    got = assign_tiers(volume, pins={"E": 1}, sizes=(2, 2, None))
    # E is pinned into tier 1 and takes one of its two places; B is the most traded of the rest.
    assert got == {"E": 1, "B": 1, "C": 2, "A": 2, "D": 3}
    with pytest.raises(ValueError, match="pinned tier 9"):
        assign_tiers(volume, pins={"A": 9}, sizes=(2, None))


# --- the capacity plan against each quota's shape (a burst, then the refill) ---------------------------

FREE = {
    "finnhub": parse_policy("30/second, 60/minute"),
    "polygon": parse_policy("5/minute"),
    "alphavantage": parse_policy("1/second, 25/day, 25/day@America/New_York"),
    "yahoo": parse_policy("1/second, 30/minute, 1000/day"),
}
GUARD = 0.25
H = 3600.0
# Shapes worked out by hand, guard g = 0.25 s:
# - Finnhub 30/second, 60/minute: minute k (k = 0, 1, ...) starts at k * (60 + g); its 60 calls go as 30 at
#   once, then 30 more 1 + g later. Call n (1-based) is in minute (n - 1) // 60; the 500th is the 20th of
#   minute 8 (8 * 60.25 = 482 s), the 2,000th the 20th of minute 33 (33 * 60.25 = 1988.25 s, 33.1 min).
# - Yahoo 1/second, 30/minute: minute k's 30 calls one every 1 + g from k * (60 + g); the 200th is the 20th
#   of minute 6: 6 * 60.25 + 19 * 1.25 = 385.25 s. (1,000/day is far away.)
# - Alpha Vantage 1/second: 20 calls, one every 1.25 s: the 20th at 19 * 1.25 = 23.75 s (the day before's
#   20 calls, 24 h earlier, leave 5 of the rolling 25/day, and by the 6th call they are 24 h + g old).
# - Polygon: 2 calls of a burst of 5: both at once.
FREE_DAY = [
    *[("tier1-quotes-hourly", "finnhub", 500, (9.5 + i) * H, 8 * 60.25) for i in range(7)],
    ("tier2-quotes-close", "finnhub", 2000, 16 * H, 33 * 60.25),
    ("tier3-quotes-close", "finnhub", 2000, 17 * H, 33 * 60.25),
    ("eod-bars", "polygon", 2, 24.5 * H, 0.0),  # the night after the session, 00:30
    ("eod-bars", "yahoo", 200, 24.5 * H, 6 * 60.25 + 19 * 1.25),
    ("eod-bars", "alphavantage", 20, 24.5 * H, 19 * 1.25),
]


def _rows(plan):
    return [(r.work.entry, r.work.provider, r.calls, r.start, round(r.finish, 6)) for r in plan.runs]


def test_the_free_finnhub_plan_fits_the_default_day_at_the_quota_pace():
    plan = capacity_plan(work_for(beat_schedule.entries("bulk-first"), 6500), FREE, GUARD)
    assert _rows(plan) == FREE_DAY
    assert plan.fits and plan.late == () and plan.history is None
    close = next(r for r in plan.runs if r.work.entry == "tier2-quotes-close")
    assert close.window == 55 * 60 and close.finish / 60 == pytest.approx(33.1, abs=0.05)


def test_a_tighter_finnhub_minute_does_not_fit_and_says_which_runs():
    # 30/second, 20/minute: minute k's 20 calls all at once at k * 60.25. 500 calls: 25 minutes, the last at
    # 24 * 60.25 = 1446 s < 50 min. 2,000 at 16:00: the last in minute 99, 99 * 60.25 = 5964.75 s > 55 min.
    # Tier 3 at 17:00 queues behind it: its minutes are 100..199 after 16:00, the last at 199 * 60.25 s after
    # 16:00, i.e. 199 * 60.25 - 3600 s after its own start.
    tight = dict(FREE, finnhub=parse_policy("30/second, 20/minute"))
    plan = capacity_plan(work_for(beat_schedule.entries("bulk-first"), 6500), tight, GUARD)
    assert not plan.fits
    got = {(r.work.entry, r.start): (r.finish, r.fits) for r in plan.runs if r.work.provider == "finnhub"}
    assert got[("tier1-quotes-hourly", 9.5 * H)] == pytest.approx((24 * 60.25, True))
    assert got[("tier2-quotes-close", 16 * H)] == pytest.approx((99 * 60.25, False))
    assert got[("tier3-quotes-close", 17 * H)] == pytest.approx((199 * 60.25 - 3600, False))
    assert [r.work.entry for r in plan.late] == ["tier2-quotes-close", "tier3-quotes-close"]


@pytest.mark.parametrize(
    ("gap", "guard", "second_finish"),
    [
        # 5/minute: the first batch takes the whole burst at t = 0; the second (started `gap` s later) waits
        # for the first call's window to pass, 60 s + guard after the first's start.
        (10.0, 0.25, 60.25 - 10.0),
        (10.0, 0.0, 60.0 - 10.0),
        (60.0, 0.25, 0.25),
        (70.0, 0.25, 0.0),  # the burst has refilled: no wait
    ],
)
def test_runs_on_one_provider_share_its_quota(gap, guard, second_finish):
    policies = {"p": parse_policy("5/minute")}
    first = DailyWork("first", "p", 5, 55.0, (10 * H,))
    second = DailyWork("second", "p", 5, 55.0, (10 * H + gap,))
    rows = simulate_day([second, first], policies, guard)  # rows come back in start order
    assert [r.work.entry for r in rows] == ["first", "second"]
    assert [r.finish for r in rows] == pytest.approx([0.0, second_finish])
    # the second ends 60 s + guard after the first's start (or at its own start once the burst refilled)
    assert rows[1].start + rows[1].finish - rows[0].start == pytest.approx(max(gap, 60.0 + guard))
    # the same two batches as two runs of one entry, and on separate providers (no sharing)
    both = simulate_day([DailyWork("e", "p", 5, 55.0, (10 * H, 10 * H + gap))], policies, guard)
    assert [r.finish for r in both] == pytest.approx([0.0, second_finish])
    apart = simulate_day(
        [first, DailyWork("second", "q", 5, 55.0, (10 * H + gap,))], dict(policies, q=policies["p"]), guard
    )
    assert [r.finish for r in apart] == [0.0, 0.0]


def test_a_run_fits_when_its_last_call_comes_by_the_end_of_its_window():
    policies = {"p": parse_policy("5/minute")}
    # 6 calls: the 6th at 60.25 s
    assert [r.fits for r in simulate_day([DailyWork("e", "p", 6, 60.25, (0.0,))], policies, 0.25)] == [True]
    assert [r.fits for r in simulate_day([DailyWork("e", "p", 6, 60.0, (0.0,))], policies, 0.25)] == [False]


def test_history_backfill_takes_the_quota_floor():
    # 500 calls at 5/minute: 100 bursts of 5, the last one 99 * (60 + 0.25) s after the first.
    assert history_backfill(parse_policy("5/minute"), 500, 0.25).seconds == pytest.approx(99 * 60.25)
    plan = capacity_plan([], FREE, GUARD, history_calls=500)
    h = plan.history
    assert (h.provider, h.policy, h.calls, h.seconds) == (
        "polygon",
        "5/minute",
        500,
        pytest.approx(99 * 60.25),
    )
    assert plan.fits  # not bound to a window: it never fails the plan
    slow = capacity_plan([], dict(FREE, polygon=parse_policy("1/minute")), GUARD, history_calls=500)
    assert slow.fits and slow.history.seconds == pytest.approx(499 * 60.25)


@pytest.mark.parametrize(
    ("end", "days", "expected"),
    [
        # 2024-12-28 (Sat) .. 2025-01-10: Dec 30, 31, Jan 2, 3, 6, 7, 8, 10; Jan 1 a holiday, Jan 9 the NYSE
        # closed for President Carter's national day of mourning.
        (date(2025, 1, 10), 14, 8),
        (date(2025, 1, 10), 13, 8),  # from Dec 29 (Sun)
        (date(2025, 1, 10), 10, 6),  # from Jan 1 (holiday)
    ],
)
def test_history_sessions(end, days, expected):
    assert history_sessions(end, days) == expected


def test_two_years_of_history_is_about_500_sessions():
    # 730 days: 104 weeks and 2 days, ~521 weekdays less ~19 holidays
    assert 498 <= history_sessions(date(2025, 6, 11)) <= 504


def test_the_seed_plan_is_expressible_and_fits_the_free_tiers():
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
    plan = capacity_plan(list(work.values()), FREE, GUARD)
    assert plan.fits, [(r.work.entry, r.calls, r.finish) for r in plan.late]
    # 100 Polygon calls at 5/minute: 20 bursts, the last 19 * 60.25 s after 17:00
    tier3 = next(r for r in plan.runs if r.work.entry == "seed-tier3-subset")
    assert tier3.finish == pytest.approx(19 * 60.25)
    # Yahoo at 2/minute serves 500 calls in 250 bursts, the last 249 * 60.25 s (4.2 h) after 06:00: not in 3 h
    tight = capacity_plan(list(work.values()), dict(FREE, yahoo=parse_policy("2/minute")), GUARD)
    assert [(r.work.entry, r.finish) for r in tight.late] == [
        ("seed-tier4-weekly", pytest.approx(249 * 60.25))
    ]


def _plan_cli(**env: str) -> subprocess.CompletedProcess:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_QUOTA", "_PLAN")) and not k.startswith("TICKERBEAT_")
    }
    return subprocess.run([sys.executable, "-m", "stack.plan"], cwd=Path(__file__).parents[2], capture_output=True,
                          text=True, timeout=60, env={**keep, **env})  # fmt: skip


def test_validate_plan_exits_1_and_names_the_run_that_cannot_fit():
    out = _plan_cli(FINNHUB_QUOTA="30/second, 20/minute")
    assert out.returncode == 1, out.stderr
    no = [line for line in out.stdout.splitlines() if line.rstrip().endswith(" NO")]
    assert [line.split()[0] for line in no] == ["tier2-quotes-close", "tier3-quotes-close"]
    assert "the schedule does NOT fit: tier2-quotes-close (finnhub) at 16:00" in out.stdout


def test_validate_plan_passes_on_the_free_plans_and_prints_the_history_load():
    out = _plan_cli()
    assert out.returncode == 0, out.stdout + out.stderr
    assert " NO" not in out.stdout
    lines = out.stdout.splitlines()
    hourly = next(line for line in lines if line.startswith("tier1-quotes-hourly x7"))
    assert "09:30-15:30" in hourly and hourly.endswith("yes")
    history = next(line for line in lines if "history backfill" in line)
    assert "grouped calls on polygon (5/minute): about" in history and "at the quota floor" in history
    assert lines[-1] == "the schedule fits: every run finishes within its window at the quota's pace"


def test_validate_plan_configuration_error_is_one_line_and_exit_2():
    out = _plan_cli(FINNHUB_QUOTA="30/fortnight")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "FINNHUB_QUOTA" in out.stderr


@pytest.mark.parametrize(
    ("candidates", "capacities", "admitted", "rest"),
    [
        ("abcdef", [2, 3], [("a", "b"), ("c", "d", "e")], ("f",)),
        ("abc", [5, 5], [("a", "b", "c"), ()], ()),
        ("abc", [0, 1], [(), ("a",)], ("b", "c")),
        ("abc", [-1], [()], ("a", "b", "c")),  # a negative capacity admits nothing
        ("", [3], [()], ()),
    ],
)
def test_cascade_hands_each_provider_what_the_ones_before_could_not_take(
    candidates, capacities, admitted, rest
):
    from planning.admission import cascade

    assert cascade(list(candidates), capacities) == (admitted, rest)


def test_by_tier_orders_by_tier_then_name_and_an_unknown_tier_counts_as_the_least_refreshed():
    from planning.admission import by_tier

    assert by_tier(["b", "x", "a", "c"], {"a": 3, "b": 1, "c": 1}) == ["b", "c", "a", "x"]
    assert by_tier(["x", "a"], {"a": 4}, unknown=5) == ["a", "x"]


@pytest.mark.parametrize(
    ("tiers", "counts"),
    [({"a": 1, "b": 3, "c": 1}, {1: 2, 3: 1}), ({}, {}), ({"a": 4}, {4: 1})],
)
def test_count_by_tier(tiers, counts):
    from planning.tiers import count_by_tier

    assert count_by_tier(tiers) == counts
    assert list(count_by_tier(tiers)) == sorted(counts)
