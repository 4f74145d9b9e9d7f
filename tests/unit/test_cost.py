"""Cost arithmetic (planning/cost.py) from tables: amounts in dollars, days as dates."""

from __future__ import annotations

import math
from datetime import date

import pytest

from planning.cost import accrued_fees, budget_share, daily_fee, days_in_month, month_to_date, projection


@pytest.mark.parametrize(
    ("day", "days"),
    [(date(2026, 2, 10), 28), (date(2024, 2, 1), 29), (date(2026, 11, 27), 30), (date(2026, 12, 31), 31)],
)
def test_days_in_month(day, days):
    assert days_in_month(day) == days


@pytest.mark.parametrize(
    ("fee", "day", "expected"),
    [
        (30.0, date(2026, 11, 5), 1.0),
        (31.0, date(2026, 12, 1), 1.0),
        (56.0, date(2026, 2, 14), 2.0),
        (0.0, date(2026, 11, 5), 0.0),
    ],
)
def test_daily_fee_spreads_the_fee_over_the_month(fee, day, expected):
    assert daily_fee(fee, day) == pytest.approx(expected)


SPENT = {date(2026, 10, 31): 5.0, date(2026, 11, 1): 1.0, date(2026, 11, 15): 2.0, date(2026, 11, 16): 4.0}


@pytest.mark.parametrize(
    ("daily", "day", "expected"),
    [
        (SPENT, date(2026, 11, 15), 3.0),  # the 1st and the 15th; not October, not the 16th
        (SPENT, date(2026, 11, 30), 7.0),
        (SPENT, date(2026, 10, 31), 5.0),
        (SPENT, date(2025, 11, 30), 0.0),  # same month, other year
        ({}, date(2026, 11, 15), 0.0),
    ],
)
def test_month_to_date_sums_the_month_up_to_the_day(daily, day, expected):
    assert month_to_date(daily, day) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("spent", "day", "expected"),
    [
        (10.0, date(2026, 11, 10), 30.0),  # a third of November gone: three times as much
        (0.0, date(2026, 11, 10), 0.0),
        (31.0, date(2026, 12, 31), 31.0),  # the last day projects to itself
        (1.0, date(2026, 2, 1), 28.0),
    ],
)
def test_projection_is_linear_in_elapsed_days(spent, day, expected):
    assert projection(spent, day) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("fee", "day"),
    [
        (29.0, date(2026, 11, 1)),
        (29.0, date(2026, 11, 30)),
        (49.99, date(2026, 2, 28)),
        (49.99, date(2024, 2, 29)),
    ],
)
def test_a_flat_fee_accrued_daily_projects_to_the_fee(fee, day):
    daily = accrued_fees(fee, day)
    assert len(daily) == day.day and min(daily) == day.replace(day=1) and max(daily) == day
    assert month_to_date(daily, day) == pytest.approx(fee * day.day / days_in_month(day))
    assert projection(month_to_date(daily, day), day) == pytest.approx(fee)


@pytest.mark.parametrize(
    ("amount", "budget", "expected"),
    [(40.0, 50.0, 0.8), (60.0, 50.0, 1.2), (0.0, 50.0, 0.0), (0.0, 0.0, 0.0), (1.0, 0.0, math.inf)],
)
def test_budget_share(amount, budget, expected):
    assert budget_share(amount, budget) == pytest.approx(expected)
