"""Cost with overage and conservation levels, from hand-worked tables."""

from datetime import date

import pytest

from planning.budget import budget_status, conservation_level, provider_cost

NOV = date(2026, 11, 10)  # 30-day month, day 10


@pytest.mark.parametrize(
    ("monthly", "included", "overage", "calls", "mtd", "projection"),
    [
        (0.0, None, 0.0, {date(2026, 11, 1): 5000}, 0.0, 0.0),  # free: nothing, however many calls
        (30.0, None, 0.0, {}, 10.0, 30.0),  # flat fee: 1 $/day accrued, projects to the fee
        # metered: 1,000 included, then 1 cent a call; 1,500 calls so far -> 5 $ overage
        (0.0, 1000, 0.01, {date(2026, 11, 2): 800, date(2026, 11, 9): 700}, 5.0, 15.0),
        # calls from October do not count against November's allowance
        (0.0, 1000, 0.01, {date(2026, 10, 30): 5000, date(2026, 11, 9): 700}, 0.0, 0.0),
    ],
)
def test_provider_cost(monthly, included, overage, calls, mtd, projection):
    c = provider_cost("p", monthly, included, overage, calls, NOV)
    assert c.month_to_date_usd == pytest.approx(mtd)
    assert c.projection_usd == pytest.approx(projection)


@pytest.mark.parametrize(
    ("projection", "level"),
    [(0.0, 0), (39.99, 0), (40.0, 1), (43.3, 1), (43.34, 2), (46.7, 3), (50.0, 3), (80.0, 3)],
)
def test_levels_between_warning_and_budget(projection, level):
    assert conservation_level(projection, 40.0, 50.0) == level


def test_budget_status_sums_providers():
    a = provider_cost("a", 30.0, None, 0.0, {}, NOV)
    b = provider_cost("b", 0.0, 0, 0.01, {date(2026, 11, 5): 500}, NOV)  # 5 $ so far -> 15 $ projected
    status = budget_status([a, b], 50.0, 40.0)
    assert status.projection_usd == pytest.approx(45.0)
    assert status.active and status.level == 2


def test_month_calls_rearranges_each_days_usage_by_provider():
    from datetime import date

    from planning.budget import month_calls

    d1, d2 = date(2026, 11, 2), date(2026, 11, 3)
    usage = {
        d1: {"finnhub": {"calls": 5, "errors": 1}, "polygon": {"calls": 2}},
        d2: {"finnhub": {"errors": 3}},
        date(2026, 11, 4): {},
    }
    assert month_calls(usage) == {"finnhub": {d1: 5, d2: 0}, "polygon": {d1: 2}}


def test_the_budget_record_rounds_money_and_keeps_the_level():
    from planning.budget import ProviderCost, budget_record, budget_status

    costs = [ProviderCost("polygon", 1.0, 10.004, 45.555), ProviderCost("finnhub", 0.0, 0.0, 0.0)]
    status = budget_status(costs, 50.0, 40.0)
    record = budget_record("2026-11-25", status, costs)
    assert record["level"] == status.level >= 1 and record["active"] is True
    assert record["projection_usd"] == 45.55 or record["projection_usd"] == 45.56
    assert record["providers"] == {"polygon": round(45.555, 2), "finnhub": 0.0}
    assert (
        record["month_to_date_usd"] == 10.0 and record["budget_usd"] == 50.0 and record["warning_usd"] == 40.0
    )
