"""Record validation: which rows are dropped (and counted, and logged with the symbol), which are kept."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from providers.records import DailyBar, Quote
from providers.validation import bar_problem, keep_valid, quote_problem

AT = datetime(2024, 11, 4, 12, tzinfo=UTC)
NAN, INF = float("nan"), float("inf")
BAR = DailyBar("IBM", date(2024, 11, 1), 207.0, 208.35, 205.5, 206.0, 3324851.0, 206.9, False, "test", AT)
QUOTE = Quote("IBM", 206.0, -1.54, -0.74, 207.0, 208.35, 205.5, 207.54, AT, "test", AT)


@pytest.mark.parametrize(
    ("changes", "reason_part"),
    [
        ({}, None),
        ({"vwap": None}, None),
        ({"volume": 0.0}, None),
        ({"open": 205.5, "close": 208.35}, None),  # at the range's ends
        ({"open": NAN}, "open"),
        ({"high": INF}, "high"),
        ({"low": 0.0}, "low"),
        ({"close": -1.0}, "close"),
        ({"vwap": 0.0}, "vwap"),
        ({"volume": -1.0}, "volume"),
        ({"volume": NAN}, "volume"),
        ({"high": 205.0, "low": 206.0, "open": 205.5, "close": 205.5}, "high"),
        ({"open": 210.0}, "open"),
        ({"close": 200.0}, "close"),
        ({"day": date(2024, 11, 2)}, "not a trading day"),  # a Saturday
        ({"day": date(2024, 11, 28)}, "not a trading day"),  # Thanksgiving
        ({"day": date(1999, 1, 4)}, "calendar"),  # outside the calendar's range
    ],
)
def test_bar_rules(changes, reason_part):
    problem = bar_problem(replace(BAR, **changes))
    if reason_part is None:
        assert problem is None
    else:
        assert problem is not None and reason_part in problem


def test_bar_after_the_last_completed_session_is_partial():
    assert bar_problem(BAR, last_complete=date(2024, 11, 1)) is None
    assert "after the last completed session" in bar_problem(BAR, last_complete=date(2024, 10, 31))


@pytest.mark.parametrize(
    ("changes", "reason_part"),
    [
        ({}, None),
        ({"change": None, "change_pct": None}, None),
        ({"price": 0.0}, "price"),
        ({"prev_close": NAN}, "prev_close"),
        ({"price": 210.0}, "price"),
        ({"high": 200.0}, "high"),
        ({"change": INF}, "change"),
    ],
)
def test_quote_rules(changes, reason_part):
    problem = quote_problem(replace(QUOTE, **changes))
    if reason_part is None:
        assert problem is None
    else:
        assert problem is not None and reason_part in problem


def test_keep_valid_drops_counts_and_logs_with_the_symbol(caplog):
    bad = replace(BAR, symbol="BADX", low=300.0)
    rows = [BAR, bad, replace(BAR, day=date(2024, 10, 31))]
    with caplog.at_level(logging.WARNING, logger="providers.validation"):
        kept, dropped = keep_valid(rows, provider="test", endpoint="daily")
    assert kept == (BAR, rows[2])
    assert dropped == 1
    assert any("BADX" in r.getMessage() and "2024-11-01" in r.getMessage() for r in caplog.records)
