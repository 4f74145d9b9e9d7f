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


def work_for(
    entries: Sequence,
    universe: int,
    sizes: Sequence[int | None] = TIER_SIZES,
    av_repairs: int = 20,
    yahoo_fallbacks: int = 200,
) -> list[DailyWork]:
    """The calls a day of beat ``entries`` makes (``beat_schedule.entries(plan)``), per entry and provider.

    A tier refresh (``plan_refresh``) calls its provider once per symbol of its tiers (or ``per_run``),
    within its expiry, once per slot; the overnight bars (``plan_eod``) are two grouped calls plus the
    fallbacks' budgets. Pure: entries are read through ``name``, ``task``, ``kwargs``, ``slots()``, ``expires``.
    """
    t = tier_counts(universe, sizes)
    work: list[DailyWork] = []
    for e in entries:
        if e.task == "tasks.planner.plan_refresh":
            tiers = e.kwargs["tiers"]
            calls = sum(t[k] for k in tiers)
            if e.kwargs.get("per_run") is not None:
                calls = min(calls, e.kwargs["per_run"])
            covers = f"tier{'s' if len(tiers) > 1 else ''} {'-'.join(map(str, tiers))}"
            work.append(
                DailyWork(e.name, e.kwargs["provider"], calls, e.expires, runs=len(e.slots()), covers=covers)
            )
        elif e.task == "tasks.planner.plan_eod":
            work += [
                DailyWork(
                    e.name, "polygon", 2, e.expires, covers="every symbol's official bar (+ corrections)"
                ),
                DailyWork(e.name, "yahoo", yahoo_fallbacks, e.expires, covers="symbols Polygon missed"),
                DailyWork(e.name, "alphavantage", av_repairs, e.expires, covers="gap repair"),
            ]
    return work


def capacity_plan(work: Sequence[DailyWork], policies: Mapping[str, Policy]) -> list[CapacityRow]:
    """Each batch against what its provider's policy admits in the batch's window from an idle start."""
    return [CapacityRow(w, calls_in(policies[w.provider], w.window)) for w in work]
