"""The month's cost per provider and conservation mode: pure functions of usage, plans and the budget.

A provider's cost is its plan's flat monthly fee accrued day by day (``planning.cost``) plus, for a
metered plan, ``overage_usd_per_call`` for every call beyond ``included_calls`` in the calendar month.
Flat fees cannot be saved by making fewer calls; metered calls can, and conservation mode is how:
when the month's projection reaches the warning level, optional beat entries are dropped in the order
their ``conserve`` rank gives (beat_schedule.py), deeper as the projection nears the budget, and the
symbols they would have refreshed are served from cache until the projection falls again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from planning import cost

# How many conserve ranks exist (beat_schedule.Entry.conserve 1..LEVELS); at the budget all are dropped.
LEVELS = 3


@dataclass(frozen=True)
class ProviderCost:
    provider: str
    today_usd: float
    month_to_date_usd: float
    projection_usd: float


def provider_cost(
    provider: str,
    monthly_usd: float,
    included_calls: int | None,
    overage_usd_per_call: float,
    calls_by_day: Mapping[date, int],
    day: date,
) -> ProviderCost:
    """Fee accrual plus overage beyond the month's included calls, up to and including ``day``."""
    daily = cost.accrued_fees(monthly_usd, day)
    used = 0
    for d in sorted(k for k in calls_by_day if (k.year, k.month) == (day.year, day.month) and k <= day):
        calls = calls_by_day[d]
        free_left = math.inf if included_calls is None else max(0, included_calls - used)
        billable = 0 if included_calls is None and overage_usd_per_call == 0 else max(0, calls - free_left)
        daily[d] = daily.get(d, 0.0) + billable * overage_usd_per_call
        used += calls
    mtd = cost.month_to_date(daily, day)
    return ProviderCost(provider, daily.get(day, 0.0), mtd, cost.projection(mtd, day))


@dataclass(frozen=True)
class BudgetStatus:
    """``level``: 0 normal; 1..LEVELS drop optional entries whose ``conserve`` rank is <= level."""

    month_to_date_usd: float
    projection_usd: float
    budget_usd: float
    warning_usd: float
    level: int

    @property
    def active(self) -> bool:
        return self.level > 0


def conservation_level(
    projection_usd: float, warning_usd: float, budget_usd: float, levels: int = LEVELS
) -> int:
    """0 below the warning; from the warning to the budget the levels rise evenly; ``levels`` at the budget."""
    if projection_usd < warning_usd:
        return 0
    if projection_usd >= budget_usd or budget_usd <= warning_usd:
        return levels
    step = (budget_usd - warning_usd) / levels
    return min(levels, 1 + int((projection_usd - warning_usd) // step))


def budget_status(costs: list[ProviderCost], budget_usd: float, warning_usd: float) -> BudgetStatus:
    mtd = sum(c.month_to_date_usd for c in costs)
    projected = sum(c.projection_usd for c in costs)
    return BudgetStatus(
        mtd, projected, budget_usd, warning_usd, conservation_level(projected, warning_usd, budget_usd)
    )


def month_calls(usage_by_day: Mapping[date, Mapping[str, Mapping[str, int]]]) -> dict[str, dict[date, int]]:
    """Calls per provider per day, from each day's recorded usage (``{provider: {"calls": n, ...}}``)."""
    calls: dict[str, dict[date, int]] = {}
    for day, by_provider in usage_by_day.items():
        for provider, counts in by_provider.items():
            calls.setdefault(provider, {})[day] = counts.get("calls", 0)
    return calls


def budget_record(day: str, status: BudgetStatus, costs: list[ProviderCost]) -> dict:
    """What the budget check stores (conservation mode reads ``level``) and reports."""
    return {"day": day, "level": status.level, "active": status.active,
            "month_to_date_usd": round(status.month_to_date_usd, 2), "projection_usd": round(status.projection_usd, 2),
            "budget_usd": status.budget_usd, "warning_usd": status.warning_usd,
            "providers": {c.provider: round(c.projection_usd, 2) for c in costs}}  # fmt: skip
