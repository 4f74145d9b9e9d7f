"""Quota schedules as pure arithmetic: the same booking rule as ``acquire.lua``, without Redis.

A ``Bookings`` value is what the script keeps for one provider (the latest booking, the recent bookings of
each rolling window, the units booked per calendar period, a block). ``next_slot`` is the earliest instant
the script would grant the next call at; ``book`` records it. On top of them:

- ``earliest_schedule``: the instants at which ``n`` calls could go from an idle start: the quota's floor
  (a burst, then the refill; e.g. Polygon ``5/minute``: 5 at once, then 5 every 60 s + guard).
- ``capacity_within``: how many more calls could be granted a slot no later than ``now + horizon``: what
  the dispatcher may release now so that no worker waits longer than the horizon.

Instants are epoch seconds (any origin); lengths are seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

from ratelimits.periods import window_starts
from ratelimits.policy import Policy, Window


@dataclass
class Bookings:
    """One provider's booked calls. ``rolling``: per rolling window (by ``Window.identity``) the booking
    instants, oldest first; ``calendar``: per calendar window the units per period start; ``last``: the
    latest booking (callers are served in order); ``blocked_until``: a block's end (``inf``: until lifted)."""

    rolling: dict[str, list[float]] = field(default_factory=dict)
    calendar: dict[str, dict[int, int]] = field(default_factory=dict)
    last: float = -math.inf
    blocked_until: float | None = None

    def copy(self) -> Bookings:
        return Bookings(
            {k: list(v) for k, v in self.rolling.items()},
            {k: dict(v) for k, v in self.calendar.items()},
            self.last,
            self.blocked_until,
        )


def _period(window: Window, t: float) -> tuple[int, int]:
    """(start, next start) of the calendar period of ``window`` that contains ``t``."""
    starts = window_starts(window, t)
    i = bisect_right(starts, t) - 1
    return starts[i], starts[i + 1]


def next_slot(policy: Policy, bookings: Bookings, now: float, guard: float = 0.0, cost: int = 1) -> float:
    """The earliest instant >= ``now`` at which every window admits ``cost`` more units (``inf`` while
    blocked until lifted). Mirrors ``acquire.lua``: not before the last booking, not before a block's end,
    the (limit - cost + 1)-th latest booking of a rolling window ``W + guard`` old, a full calendar period
    pushes to the next period's start + guard."""
    t = max(now, bookings.last)
    if bookings.blocked_until is not None:
        t = max(t, bookings.blocked_until)
    if t == math.inf:
        return t
    for w in policy.rolling:
        booked = bookings.rolling.get(w.identity, [])
        back = w.limit - cost + 1
        if len(booked) >= back:
            t = max(t, booked[-back] + w.seconds + guard)
    moved = True
    while moved:
        moved = False
        for w in policy.calendar:
            start, following = _period(w, t)
            if bookings.calendar.get(w.identity, {}).get(start, 0) + cost > w.limit:
                t = following + guard
                moved = True
    return t


def book(policy: Policy, bookings: Bookings, at: float, cost: int = 1) -> None:
    """Record ``cost`` units booked at ``at`` (an instant ``next_slot`` returned)."""
    for w in policy.rolling:
        booked = bookings.rolling.setdefault(w.identity, [])
        booked.extend([at] * cost)
        del booked[: max(0, len(booked) - w.limit)]
    for w in policy.calendar:
        start, _ = _period(w, at)
        periods = bookings.calendar.setdefault(w.identity, {})
        periods[start] = periods.get(start, 0) + cost
    bookings.last = max(bookings.last, at)


def earliest_schedule(policy: Policy, n: int, start: float = 0.0, guard: float = 0.0) -> list[float]:
    """The instants of ``n`` calls made as early as ``policy`` allows from an idle quota at ``start``."""
    bookings = Bookings()
    out = []
    for _ in range(n):
        at = next_slot(policy, bookings, start, guard)
        book(policy, bookings, at)
        out.append(at)
    return out


def quota_floor(policy: Policy, n: int, guard: float = 0.0) -> float:
    """Seconds from the first to the last of ``n`` calls at the quota's own pace (0 for 0 or 1 call)."""
    if n <= 1:
        return 0.0
    schedule = earliest_schedule(policy, n, 0.0, guard)
    return schedule[-1] - schedule[0]


def capacity_within(
    policy: Policy, bookings: Bookings, now: float, horizon: float, guard: float = 0.0, most: int = 1000
) -> int:
    """How many calls (at most ``most``) could still be booked at instants <= ``now + horizon``."""
    trial = bookings.copy()
    end = now + horizon
    count = 0
    while count < most:
        at = next_slot(policy, trial, now, guard)
        if at > end:
            break
        book(policy, trial, at)
        count += 1
    return count
