"""The pure pieces that used to live inside tasks, each from a table worked out by hand: the day's indicator
rows, provisional closes from quotes, mean dollar volumes, the oldest-first rotation, a run's usage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from analysis.indicators import indicator_rows
from analysis.panel import Panel, fill_from_quotes
from dispatch import Ledger
from planning.admission import oldest_first
from planning.tiers import mean_dollar_volumes

DAY = date(2026, 11, 20)
OPEN = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


@dataclass
class Q:
    price: float
    high: float | None
    low: float | None
    at: datetime


def test_indicator_rows_only_for_symbols_with_a_bar_on_the_day():
    days = 260
    close = np.tile(np.linspace(10, 20, days)[:, None], (1, 3))
    close[-1, 1] = np.nan  # no bar on the day
    volume = np.full((days, 3), 1000.0)
    dates = tuple(date(2025, 1, 1) + timedelta(days=i) for i in range(days))
    panel = Panel(dates, ("A", "B", "C"), close, close * 1.01, close * 0.99, volume)
    rows = indicator_rows(panel, DAY)
    assert [r["symbol"] for r in rows] == ["A", "C"]
    assert all(r["day"] == DAY for r in rows)
    # a straight line of closes: the 20-session average is the mean of the last 20 closes
    assert rows[0]["sma_20"] == pytest.approx(close[-20:, 0].mean())
    assert all(
        v is None or math.isfinite(v) for r in rows for k, v in r.items() if k not in ("symbol", "day")
    )


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        (Q(12.0, 12.5, 11.5, OPEN + timedelta(hours=3)), (12.0, 12.5, 11.5)),  # during the session
        (Q(12.0, None, None, CLOSE + timedelta(hours=7)), (12.0, 12.0, 12.0)),  # after the close, no range
        (Q(12.0, 12.5, 11.5, CLOSE + timedelta(hours=9)), None),  # too late: not this session's
        (Q(12.0, 12.5, 11.5, OPEN - timedelta(minutes=1)), None),  # before the open: yesterday's
        (None, None),
    ],
)
def test_a_provisional_close_comes_from_the_sessions_quote(quote, expected):
    close, high, low = (np.array([[10.0, 9.0], [np.nan, 9.5]]) for _ in range(3))
    quotes = {"A": quote} if quote else {}
    filled = fill_from_quotes(close, high, low, ("A", "B"), quotes | {"B": Q(1.0, 1, 1, OPEN)}, (OPEN, CLOSE))
    if expected is None:
        assert filled == 0 and np.isnan(close[-1, 0])
    else:
        assert filled == 1 and (close[-1, 0], high[-1, 0], low[-1, 0]) == expected
    assert close[-1, 1] == 9.5  # a symbol with its bar is never overwritten


def test_mean_dollar_volumes():
    close = np.array([[10.0, 5.0, np.nan], [20.0, np.nan, np.nan]])
    volume = np.array([[100.0, 10.0, np.nan], [100.0, 10.0, np.nan]])
    out = mean_dollar_volumes(close, volume, ["A", "B", "C"])
    assert out["A"] == 1500.0 and out["B"] == 50.0 and math.isnan(out["C"])
    assert all(math.isnan(v) for v in mean_dollar_volumes(np.empty((0, 2)), np.empty((0, 2)), "XY").values())


def test_oldest_first_rotation():
    ages = {"A": date(2026, 11, 3), "B": None, "C": date(2026, 11, 1), "D": date(2026, 11, 1)}
    assert oldest_first(ages, 3) == ["B", "C", "D"]  # never refreshed, then oldest, ties by name
    assert oldest_first(ages, 0) == [] and oldest_first(ages, 9) == ["B", "C", "D", "A"]


def test_a_runs_usage_counts_made_calls_and_deferrals():
    ledger = Ledger("r", "finnhub", "k", "2026-11-20", planned=9, admitted=9, carried_plan=0, made=8,
                    deferred=3, deferred_made=1, reclaimed=0, carried=0, stale=1, backlog=0, in_flight=0,
                    done=True, closed=False, deadline=None,
                    outcomes={"ok": 5, "not_found": 1, "throttled": 1, "quota_exhausted": 1, "failed": 1})  # fmt: skip
    assert ledger.usage() == {
        "calls": 8,
        "ok": 5,
        "throttled": 1,
        "quota_exhausted": 1,
        "errors": 1,
        "deferred": 3,
    }
