"""The day's capacity plan: every scheduled batch of calls against the quota that must serve it.

``make validate-plan`` prints it and fails when a batch cannot fit; the planner checks the same
numbers at run time with the quota's live state (``admission.remaining_calls``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planning.admission import calls_in
from ratelimits import Policy

# The seed's tier sizes: tier 1 the 500 most traded, then 1,500, 2,000, and everything else in tier 4.
TIER_SIZES: tuple[int | None, ...] = (500, 1500, 2000, None)


@dataclass(frozen=True)
class DailyWork:
    """A batch of calls one schedule entry makes: ``calls`` per run, to be served within ``window`` seconds."""

    entry: str
    provider: str
    calls: int
    window: float
    runs: int = 1
    covers: str = ""


@dataclass(frozen=True)
class CapacityRow:
    work: DailyWork
    capacity: int

    @property
    def fits(self) -> bool:
        return self.work.calls <= self.capacity

    @property
    def share(self) -> float:
        """The share of the window's capacity the batch uses (0..1+)."""
        return self.work.calls / self.capacity if self.capacity else float("inf")


def tier_counts(universe: int, sizes: Sequence[int | None] = TIER_SIZES) -> dict[int, int]:
    """How many symbols each tier holds in a universe of ``universe`` symbols."""
    counts, left = {}, universe
    for tier, size in enumerate(sizes, start=1):
        n = left if size is None else min(size, left)
        counts[tier] = n
        left -= n
    return counts


def default_work(
    universe: int, sizes: Sequence[int | None] = TIER_SIZES, av_repairs: int = 20, yahoo_fallbacks: int = 200
) -> list[DailyWork]:
    """The bulk-first day (see beat_schedule.py for when each entry runs and why)."""
    t = tier_counts(universe, sizes)
    return [
        DailyWork("tier1-quotes-hourly", "finnhub", t[1], 50 * 60, runs=7, covers="tier 1 intraday"),
        DailyWork(
            "tier2-quotes-close", "finnhub", t[1] + t[2], 55 * 60, covers="tiers 1-2 provisional close"
        ),
        DailyWork("tier3-quotes-close", "finnhub", t[3], 55 * 60, covers="tier 3 provisional close"),
        DailyWork("eod-bars", "polygon", 2, 3 * 3600, covers="every symbol's official bar (+ corrections)"),
        DailyWork("eod-bars", "yahoo", yahoo_fallbacks, 3 * 3600, covers="symbols Polygon missed"),
        DailyWork("eod-bars", "alphavantage", av_repairs, 3 * 3600, covers="gap repair"),
    ]


def capacity_plan(work: Sequence[DailyWork], policies: Mapping[str, Policy]) -> list[CapacityRow]:
    """Each batch against what its provider's policy admits in the batch's window from an idle start."""
    return [CapacityRow(w, calls_in(policies[w.provider], w.window)) for w in work]
