"""Admission control: never enqueue more calls than a provider's quota can serve in the run's window.

What does not fit is carried to the next run, in priority order (tier first); it is never parked as a
long ETA task (a Redis broker re-delivers those after the visibility timeout and runs them twice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ratelimits import Policy


def calls_in(policy: Policy, seconds: float) -> int:
    """Calls ``policy`` admits in ``seconds`` from an idle start: each window allows ``limit`` per
    ``length``, so a window admits ``limit * ceil(seconds / length)``; the policy, the least of them."""
    if seconds <= 0:
        return 0
    return min(w.limit * max(1, math.ceil(seconds / w.seconds)) for w in policy.windows)


@dataclass(frozen=True)
class Admission:
    admitted: tuple[str, ...]
    carried: tuple[str, ...]


def admit(candidates: Sequence[str], capacity: int) -> Admission:
    """The first ``capacity`` candidates (already in priority order) go now; the rest are carried."""
    capacity = max(0, capacity)
    return Admission(tuple(candidates[:capacity]), tuple(candidates[capacity:]))


def priority_order(symbols_by_tier: dict[int, Sequence[str]], carried: Sequence[str] = ()) -> list[str]:
    """Carried symbols first (they waited longest), then by tier, each symbol once."""
    seen: set[str] = set()
    ordered: list[str] = []
    for symbol in [*carried, *(s for t in sorted(symbols_by_tier) for s in symbols_by_tier[t])]:
        if symbol not in seen:
            seen.add(symbol)
            ordered.append(symbol)
    return ordered


def oldest_first(last_day: Mapping[str, date | None], n: int) -> list[str]:
    """The ``n`` symbols whose newest bar is oldest (never refreshed first, then by date, then by name):
    a rotation that reaches every symbol of a tier in turn, ``n`` a run."""
    return sorted(last_day, key=lambda sym: (last_day[sym] or date.min, sym))[: max(0, n)]


def cascade(
    candidates: Sequence[str], capacities: Sequence[int]
) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """Each provider in turn takes what it can of what the ones before it could not: (the admitted keys
    per provider, in the order of ``capacities``; what none could take)."""
    admitted: list[tuple[str, ...]] = []
    rest: tuple[str, ...] = tuple(candidates)
    for capacity in capacities:
        decision = admit(rest, capacity)
        admitted.append(decision.admitted)
        rest = decision.carried
    return admitted, rest


def by_tier(symbols: Sequence[str], tier_of: Mapping[str, int], unknown: int = 4) -> list[str]:
    """``symbols`` in tier order (a symbol without a tier counts as ``unknown``), then by name."""
    return sorted(symbols, key=lambda sym: (tier_of.get(sym, unknown), sym))
