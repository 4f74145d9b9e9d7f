"""Pure record handling: coercion per column kind, normalisation, chunk sizes (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum

import numpy as np
import pytest

from storage.errors import StorageError
from storage.rows import chunk_size, coerce, jsonable, normalise
from storage.writes import BARS, INDICATORS, QUOTES, RECOMMENDATIONS, SYMBOLS

NOW = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


class Action(Enum):  # a plain Enum: its .value is what gets stored
    BUY = "buy"


@pytest.mark.parametrize(
    ("spec", "column", "value", "expected"),
    [
        (BARS, "close", 1, 1.0),
        (BARS, "close", np.float32(2.5), 2.5),
        (BARS, "close", np.int64(7), 7.0),
        (BARS, "vwap", float("nan"), None),
        (BARS, "vwap", np.nan, None),
        (BARS, "vwap", None, None),
        (BARS, "day", "2026-11-27", date(2026, 11, 27)),
        (BARS, "day", np.datetime64("2026-11-27"), date(2026, 11, 27)),
        (BARS, "day", datetime(2026, 11, 27), date(2026, 11, 27)),
        (BARS, "adjusted", np.bool_(False), False),
        (BARS, "source", "polygon", "polygon"),
        (QUOTES, "at", "2026-11-27T16:00:00-05:00", datetime(2026, 11, 27, 21, 0, tzinfo=UTC)),
        (QUOTES, "at", datetime(2026, 11, 27, 21, 0), datetime(2026, 11, 27, 21, 0, tzinfo=UTC)),
        (QUOTES, "at", datetime(2026, 11, 27, 23, 0, tzinfo=timezone(timedelta(hours=2))), NOW),
        (QUOTES, "at", np.datetime64("2026-11-27T21:00:00", "ns"), NOW),
        (SYMBOLS, "tier", 2.0, 2),
        (SYMBOLS, "tier", np.int16(1), 1),
        (RECOMMENDATIONS, "action", Action.BUY, "buy"),
        (RECOMMENDATIONS, "reasons", ("RSI 14 = 27.5", np.float64(1.5)), ["RSI 14 = 27.5", 1.5]),
    ],
)
def test_coerce_accepts(spec, column, value, expected):
    result = coerce(spec, column, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("spec", "column", "value", "reason"),
    [
        (BARS, "close", None, "not nullable"),
        (BARS, "close", float("nan"), "not nullable"),
        (BARS, "close", float("inf"), "infinite"),
        (BARS, "close", "1.5", "expected a number"),
        (BARS, "close", True, "expected a number"),
        (BARS, "day", "27/11/2026", "ISO date"),
        (BARS, "day", datetime(2026, 11, 27, 16, 0), "instant"),
        (BARS, "day", 20261127, "expected a date"),
        (BARS, "adjusted", "yes", "true/false"),
        (BARS, "source", 5, "expected text"),
        (BARS, "symbol", "X" * 33, "longer than 32"),
        (QUOTES, "at", "yesterday", "ISO datetime"),
        (QUOTES, "at", 1.5, "expected a datetime"),
        (SYMBOLS, "tier", 1.5, "integer"),
        (RECOMMENDATIONS, "reasons", [object()], "JSON"),
    ],
)
def test_coerce_rejects(spec, column, value, reason):
    with pytest.raises(ValueError, match=reason):
        coerce(spec, column, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"auc": np.float64(0.61), "folds": (1, 2)}, {"auc": 0.61, "folds": [1, 2]}),
        ({"ic": float("nan"), "x": float("-inf")}, {"ic": None, "x": None}),
        (np.array([1.0, np.nan]), [1.0, None]),
        ({1: date(2026, 1, 2)}, {"1": "2026-01-02"}),
    ],
)
def test_jsonable(value, expected):
    assert jsonable(value) == expected


def bar(symbol="AAPL", day="2026-11-27", close=10.0, **extra):
    prices = {"open": 9.0, "high": 11.0, "low": 8.0, "close": close, "volume": 1e6}
    return {"symbol": symbol, "day": day, **prices, "source": "polygon", **extra}


def test_normalise_last_record_for_a_key_wins_and_rows_are_key_sorted():
    records = [
        bar("MSFT", close=1.0),
        bar("AAPL", close=2.0),
        bar("MSFT", close=3.0),
        bar("AAPL", "2026-11-26"),
    ]
    (rows,) = normalise(BARS, records, now=NOW)
    assert [(r["symbol"], r["day"].isoformat(), r["close"]) for r in rows] == [
        ("AAPL", "2026-11-26", 10.0),
        ("AAPL", "2026-11-27", 2.0),
        ("MSFT", "2026-11-27", 3.0),
    ]
    assert all(r["fetched_at"] == NOW for r in rows)


def test_normalise_groups_records_by_the_fields_they_carry():
    groups = normalise(BARS, [bar("A"), bar("B", vwap=10.5), bar("C")], now=NOW)
    assert sorted(sorted(r["symbol"] for r in g) for g in groups) == [["A", "C"], ["B"]]
    assert [("vwap" in g[0]) for g in groups] == [False, True]


@dataclass(frozen=True)
class SymbolInfo:  # the shape of providers' SymbolInfo: `symbol`, not `ticker`, and no tier fields
    symbol: str
    name: str
    exchange: str
    type: str
    currency: str
    active: bool
    source: str


def test_normalise_reads_objects_by_attribute_and_leaves_absent_columns_out():
    (rows,) = normalise(
        SYMBOLS, [SymbolInfo("AAPL", "Apple", "XNAS", "Common Stock", "USD", True, "finnhub")], now=NOW
    )
    assert rows == [
        {
            "ticker": "AAPL",
            "name": "Apple",
            "exchange": "XNAS",
            "type": "Common Stock",
            "currency": "USD",
            "active": True,
            "source": "finnhub",
            "updated_at": NOW,
        }
    ]


def test_indicator_nan_becomes_null():
    record = {"symbol": "AAPL", "day": date(2026, 11, 27), "sma_20": 1.5, "sma_200": np.float64("nan")}
    (rows,) = normalise(INDICATORS, [record])
    assert rows[0]["sma_20"] == 1.5 and rows[0]["sma_200"] is None


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([bar(colse=1.0)], r"daily_bars: record 0 has unknown field\(s\) colse"),
        ([bar(), {**bar(), "symbol": None}], r"daily_bars: record 1 lacks its key field\(s\) symbol"),
        ([{k: v for k, v in bar().items() if k != "close"}], r"lack required field\(s\) close"),
        ([bar(), bar(close=float("nan"))], r"record 1 field 'close' is missing"),
        ([bar(day="2026-13-01")], r"record 0 field 'day' expected an ISO date"),
    ],
)
def test_normalise_rejects_bad_records_with_a_clear_message(records, message):
    with pytest.raises(StorageError, match=message):
        normalise(BARS, records, now=NOW)


@pytest.mark.parametrize(
    ("columns", "max_params", "max_rows", "expected"),
    [
        (11, 999, 1000, 90),
        (11, 32766, 1000, 1000),
        (19, 32766, 5000, 1724),
        (1000, 999, 1000, 1),
        (3, 9, 1000, 3),
    ],
)
def test_chunk_size_keeps_each_statement_under_the_parameter_limit(columns, max_params, max_rows, expected):
    size = chunk_size(columns, max_params, max_rows)
    assert size == expected
    assert size * columns <= max(max_params, columns)


def test_chunk_size_rejects_nonsense():
    with pytest.raises(ValueError):
        chunk_size(0, 999)


def test_nan_check_does_not_trip_on_text():
    assert coerce(BARS, "source", "nan") == "nan"
