"""The day's capacity plan: every scheduled run of calls against the SHAPE of the quota that must serve it.

Free quotas come as a burst then a refill (Polygon ``5/minute``: 5 calls at once, then 5 more a minute
later), and admitted calls are released to workers at the quota's own pace. So the plan is proved on a
timeline, not with calls-per-window arithmetic: each run starts at its New York slot, its calls are booked
one by one with the same rule as the Redis quota script (``ratelimits.schedule``), runs on one provider
share its quota (a run that starts while an earlier one is still going waits behind it), and a run fits
when its last call's slot comes no later than its window (the entry's ``expires``) after its start.

``make validate-plan`` prints it and fails when a run cannot fit; at run time the planner admits against
the same shape from the quota's live state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from planning.history import HISTORY_PROVIDER, HistoryRow, history_backfill
from ratelimits import Policy
from ratelimits.schedule import Bookings, book, next_slot

# The seed's tier sizes: tier 1 the 500 most traded, then 1,500, 2,000, and everything else in tier 4.
TIER_SIZES: tuple[int | None, ...] = (500, 1500, 2000, None)

DAY = 86400
NEW_YORK = ZoneInfo("America/New_York")
# The session the plan is simulated on: an ordinary Wednesday, no change of clocks within a week of it
# (calendar-day windows need real dates; the result is the same on any such day).
REFERENCE_DAY = date(2025, 6, 11)


@dataclass(frozen=True)
class DailyWork:
    """The calls one schedule entry makes on one provider each run: ``calls`` per run, each run to be served
    within ``window`` seconds of its start. ``starts``: one per run, seconds after New York midnight of the
    session day (an after-session entry runs the night after: 24 h + its slot)."""

    entry: str
    provider: str
    calls: int
    window: float
    starts: tuple[float, ...]
    covers: str = ""

    @property
    def runs(self) -> int:
        return len(self.starts)


@dataclass(frozen=True)
class RunRow:
    """One run of ``work`` (``run``: index into ``work.starts``) on the day's timeline. ``finish``: seconds
    from the run's start to its last call's slot, queued behind earlier runs on the same provider."""

    work: DailyWork
    run: int
    finish: float

    @property
    def start(self) -> float:
        """Seconds after New York midnight of the session day."""
        return self.work.starts[self.run]

    @property
    def calls(self) -> int:
        return self.work.calls

    @property
    def window(self) -> float:
        return self.work.window

    @property
    def fits(self) -> bool:
        return self.finish <= self.work.window

    @property
    def share(self) -> float:
        """The share of the window the run takes (0..1 when it fits)."""
        return self.finish / self.work.window if self.work.window else math.inf


@dataclass(frozen=True)
class CapacityPlan:
    """Every run of the day in start order, and the first run's history load (None when not asked for:
    it carries on across runs until done, so it never fails the plan)."""

    runs: tuple[RunRow, ...]
    history: HistoryRow | None = None

    @property
    def late(self) -> tuple[RunRow, ...]:
        """The runs that cannot finish within their window."""
        return tuple(r for r in self.runs if not r.fits)

    @property
    def fits(self) -> bool:
        return not self.late


def tier_sizes(universe: int, sizes: Sequence[int | None] = TIER_SIZES) -> dict[int, int]:
    """How many symbols each tier holds in a universe of ``universe`` symbols."""
    counts, left = {}, universe
    for tier, size in enumerate(sizes, start=1):
        n = left if size is None else min(size, left)
        counts[tier] = n
        left -= n
    return counts


def _starts(entry) -> tuple[float, ...]:
    """An entry's runs in seconds after New York midnight of the session day it works for."""
    night = DAY if entry.calendar == "after-session" else 0
    return tuple(float(night + h * 3600 + m * 60) for h, m in entry.slots())


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
    fallbacks' budgets. Pure: entries are read through ``name``, ``task``, ``kwargs``, ``calendar``,
    ``slots()``, ``expires``. The history backfill is not here: see ``planning.history``.
    """
    t = tier_sizes(universe, sizes)
    work: list[DailyWork] = []
    for e in entries:
        if e.task == "tasks.planner.plan_refresh":
            tiers = e.kwargs["tiers"]
            calls = sum(t[k] for k in tiers)
            if e.kwargs.get("per_run") is not None:
                calls = min(calls, e.kwargs["per_run"])
            covers = f"tier{'s' if len(tiers) > 1 else ''} {'-'.join(map(str, tiers))}"
            work.append(DailyWork(e.name, e.kwargs["provider"], calls, e.expires, _starts(e), covers))
        elif e.task == "tasks.planner.plan_eod":
            starts = _starts(e)
            work += [
                DailyWork(
                    e.name, "polygon", 2, e.expires, starts, "every symbol's official bar (+ corrections)"
                ),
                DailyWork(e.name, "yahoo", yahoo_fallbacks, e.expires, starts, "symbols Polygon missed"),
                DailyWork(e.name, "alphavantage", av_repairs, e.expires, starts, "gap repair"),
            ]
    return work


def _midnight(day: date) -> float:
    """Epoch seconds of New York midnight starting ``day``."""
    return datetime.combine(day, time(0), tzinfo=NEW_YORK).timestamp()


def warmup_days(policies: Mapping[str, Policy]) -> int:
    """Days simulated before the reported one, so that windows of a day or longer hold the previous days'
    calls as they do in steady state: the longest window in days, rounded up, at least 1."""
    longest = max((w.seconds for p in policies.values() for w in p.windows), default=0.0)
    return max(1, math.ceil(longest / DAY))


def simulate_day(
    work: Sequence[DailyWork],
    policies: Mapping[str, Policy],
    guard: float = 0.0,
    day: date = REFERENCE_DAY,
) -> list[RunRow]:
    """Every run of ``work`` on the timeline of the session ``day``, against its provider's quota shape.

    Each run starts at its slot (``DailyWork.starts``) and books its ``calls`` one at a time at the earliest
    instant ``next_slot`` grants (the quota script's rule, ``guard`` seconds added to every window); one
    ``Bookings`` per provider serves its runs in start order (ties in ``work`` order), so a run waits behind
    an earlier one still going. The same schedule runs on ``warmup_days`` days before ``day`` first, so
    daily windows start the day as full as they are in steady state.

    Returns the rows of ``day`` in start order; ``RunRow.finish`` is in seconds after the run's start.
    """
    missing = sorted({w.provider for w in work} - set(policies))
    if missing:
        raise KeyError(f"no quota policy for {', '.join(missing)}")
    warm = warmup_days({w.provider: policies[w.provider] for w in work})
    events = []
    for offset in range(-warm, 1):
        midnight = _midnight(day + timedelta(days=offset))
        for wi, w in enumerate(work):
            for ri, start in enumerate(w.starts):
                events.append((midnight + start, wi, ri, offset))
    events.sort()
    bookings: dict[str, Bookings] = {}
    rows: list[RunRow] = []
    for at, wi, ri, offset in events:
        w = work[wi]
        policy, booked = policies[w.provider], bookings.setdefault(w.provider, Bookings())
        last = at
        for _ in range(w.calls):
            last = next_slot(policy, booked, at, guard)
            book(policy, booked, last)
        if offset == 0:
            rows.append(RunRow(w, ri, last - at))
    return rows


def capacity_plan(
    work: Sequence[DailyWork],
    policies: Mapping[str, Policy],
    guard: float = 0.0,
    history_calls: int = 0,
    history_provider: str = HISTORY_PROVIDER,
    day: date = REFERENCE_DAY,
) -> CapacityPlan:
    """The day's runs (``simulate_day``) and, when ``history_calls`` > 0, the first run's history load on
    ``history_provider`` at its quota floor. ``guard`` in seconds, as ``TICKERBEAT_QUOTA_GUARD_SECONDS``."""
    history = (
        history_backfill(policies[history_provider], history_calls, guard, history_provider)
        if history_calls > 0
        else None
    )
    return CapacityPlan(tuple(simulate_day(work, policies, guard, day)), history)
