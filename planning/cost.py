"""Cost arithmetic for the budget: pure functions of amounts in US dollars and calendar days.

Every plan in ``runtime.plans`` is a flat monthly fee (free tiers cost 0), accrued evenly over the days of
the calendar month; a metered charge (calls times a price) would simply be added to a day's amount.
The metrics exporter uses these for the cost gauges; conservation mode compares the same figures with
``monthly_budget_usd`` and ``budget_warning_usd``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from datetime import date


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def daily_fee(monthly_usd: float, day: date) -> float:
    """The share of a flat monthly fee (dollars) that accrues on ``day``: the fee over the month's days."""
    return monthly_usd / days_in_month(day)


def month_to_date(daily_usd: Mapping[date, float], day: date) -> float:
    """Dollars spent in ``day``'s month from its 1st up to and including ``day`` (other days ignored)."""
    return sum(v for d, v in daily_usd.items() if (d.year, d.month) == (day.year, day.month) and d <= day)


def projection(month_to_date_usd: float, day: date) -> float:
    """The month's total if spending goes on at the pace of the month so far (linear in elapsed days).

    A flat fee accrued day by day with ``daily_fee`` projects to exactly the fee.
    """
    return month_to_date_usd * days_in_month(day) / day.day


def budget_share(amount_usd: float, budget_usd: float) -> float:
    """``amount / budget`` (1.0 = the whole budget). A zero budget: 0 when nothing is spent, else ``inf``."""
    if budget_usd > 0:
        return amount_usd / budget_usd
    return 0.0 if amount_usd <= 0 else math.inf


def accrued_fees(monthly_usd: float, day: date) -> dict[date, float]:
    """A flat monthly fee's daily amounts (dollars) from the 1st of ``day``'s month up to ``day``."""
    return {day.replace(day=d): daily_fee(monthly_usd, day) for d in range(1, day.day + 1)}
