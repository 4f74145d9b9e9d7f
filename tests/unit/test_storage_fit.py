"""``storage.rows.fit``: provider records fitted to their table, one at a time, by the model's own columns.

A record the table cannot hold is refused alone with its reason (never the batch); text longer than its
column is cut to the column; text no driver can store (NUL, a lone surrogate) is cleaned; a key is never
altered; a None where the column cannot be NULL but has a default is left out. ``normalise`` (the writers'
own check, all or nothing) refuses the same values.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from providers.records import DailyBar, SymbolInfo
from storage.errors import StorageError
from storage.rows import fit, normalise
from storage.writes import BARS, SYMBOLS

AT = datetime(2026, 11, 25, 22, tzinfo=UTC)
BAR = DailyBar("AAPL", date(2026, 11, 25), 10.0, 11.0, 9.0, 10.5, 1000.0, None, True, "test", AT)


def _info(symbol="AAPL", name="Apple", exchange="XNAS", currency="USD") -> SymbolInfo:
    return SymbolInfo(symbol, name, exchange, "Common Stock", currency, True, "test")


@pytest.mark.parametrize(
    ("record", "field", "stored"),
    [
        (_info(name="x" * 300), "name", "x" * 255),  # the name column holds 255
        (_info(exchange="X" * 40), "exchange", "X" * 32),
        (_info(name="Apple\x00 Inc"), "name", "Apple Inc"),  # PostgreSQL refuses NUL in text
        (_info(name="Apple \ud800Inc"), "name", "Apple Inc"),  # no driver can encode a lone surrogate
        (_info(name="Société Générale"), "name", "Société Générale"),
    ],
    ids=["long-name", "long-exchange", "nul", "surrogate", "accents"],
)
def test_text_is_cut_or_cleaned_to_fit_its_column(record, field, stored):
    fitted = fit(SYMBOLS, [record])
    assert fitted.refused == [] and fitted.rows[0][field] == stored
    assert fitted.cut == (stored != getattr(record, field))


def test_a_listing_without_currency_keeps_the_columns_default():
    (row,) = fit(SYMBOLS, [_info(currency=None)]).rows
    assert "currency" not in row and row["ticker"] == "AAPL"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (_info(symbol="A" * 40), "ticker is longer than 32 characters"),  # a key is never cut
        (replace(BAR, open=math.nan), "open is missing"),
        (replace(BAR, high=math.inf), "high is infinite"),
        (replace(BAR, day="yesterday"), "day expected an ISO date"),
        ({"symbol": "AAPL", "day": "2026-11-25", "colour": "red"}, "unknown field(s) colour"),
    ],
    ids=["long-key", "nan-price", "inf-price", "bad-day", "unknown-field"],
)
def test_a_record_the_table_cannot_hold_is_refused_alone_with_its_reason(record, reason):
    table = SYMBOLS if isinstance(record, SymbolInfo) else BARS
    good = _info() if table is SYMBOLS else BAR
    fitted = fit(table, [good, record, good])
    assert len(fitted.rows) == 2
    ((label, why),) = fitted.refused
    assert reason in why, why


@pytest.mark.parametrize("name", ["Apple\x00", "Apple\ud800"], ids=["nul", "surrogate"])
def test_the_writers_own_check_refuses_what_no_driver_can_store(name):
    with pytest.raises(StorageError, match="name"):
        normalise(SYMBOLS, [{"ticker": "AAPL", "name": name}])
