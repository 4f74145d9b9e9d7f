"""Readers on a real database (SQLite and PostgreSQL): universe, tiers, bars long and wide, backfill gaps."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from storage import (
    Database,
    active_symbols,
    bars_between,
    bars_panel,
    days_with_bars,
    latest_bar_day,
    symbols_missing_bar,
    tiers,
    upsert_bars,
    upsert_symbols,
)

MON, TUE, WED, THU = (date(2026, 11, 23) + timedelta(days=i) for i in range(4))


def bar(symbol, day, close):
    return {
        "symbol": symbol,
        "day": day,
        "open": close,
        "high": close + 1,
        "low": close - 1,
        "close": close,
    } | {
        "volume": close * 10,
        "source": "polygon",
    }


# AAPL every day; MSFT misses TUE; TSLA only WED. Closes encode (symbol, day) so placement is checkable.
BARS = [bar("AAPL", d, 100 + i) for i, d in enumerate((MON, TUE, WED))]
BARS += [bar("MSFT", d, 200 + i) for i, d in enumerate((MON, TUE, WED)) if d != TUE]
BARS += [bar("TSLA", WED, 302)]


@pytest.fixture
def filled(db):
    with db.session() as s, s.begin():
        upsert_symbols(
            s,
            [
                {"ticker": "AAPL", "tier": 1},
                {"ticker": "MSFT", "tier": 2, "pinned_tier": 1},
                {"ticker": "TSLA", "tier": 2},
                {"ticker": "GONE", "tier": 1, "active": False},
            ],
        )
        upsert_bars(s, BARS)
    return db


def test_active_symbols_and_effective_tiers(filled):
    with filled.session() as s:
        assert active_symbols(s) == ["AAPL", "MSFT", "TSLA"]
        assert active_symbols(s, tier=1) == ["AAPL", "MSFT"]  # MSFT pinned to 1
        assert active_symbols(s, tier=2) == ["TSLA"]
        assert tiers(s) == {"AAPL": 1, "MSFT": 1, "TSLA": 2}


def test_bars_between_is_long_sorted_and_inclusive(filled):
    with filled.session() as s:
        frame = bars_between(s, TUE, WED)
        assert list(frame.columns) == ["symbol", "day", "open", "high", "low", "close", "volume"]
        assert [(r.symbol, r.day.date(), r.close) for r in frame.itertuples()] == [
            ("AAPL", TUE, 101.0),
            ("AAPL", WED, 102.0),
            ("MSFT", WED, 202.0),
            ("TSLA", WED, 302.0),
        ]
        assert str(frame["day"].dtype) == "datetime64[ns]"
        assert frame["volume"].dtype == np.float64
        assert list(bars_between(s, MON, THU, symbols=["MSFT", "NOPE"])["close"]) == [200.0, 202.0]
        empty = bars_between(s, THU, THU)
        assert len(empty) == 0 and list(empty.columns) == list(frame.columns)


def test_bars_panel_places_nan_where_bars_are_missing(filled):
    with filled.session() as s:
        panel = bars_panel(s, MON, THU, symbols=["TSLA", "AAPL", "MSFT", "NOBARS"], days=[MON, TUE, WED, THU])
    nan = np.nan
    expected = np.array(
        [
            [nan, 100, 200, nan],  # MON
            [nan, 101, nan, nan],  # TUE: MSFT missing
            [302, 102, 202, nan],  # WED
            [nan, nan, nan, nan],  # THU: a session nobody has a bar for yet
        ]
    )
    assert panel.shape == (4, 4)
    assert panel.symbols == ("TSLA", "AAPL", "MSFT", "NOBARS")
    assert [str(d) for d in panel.days] == [str(d) for d in (MON, TUE, WED, THU)]
    np.testing.assert_array_equal(panel.close, expected)
    np.testing.assert_array_equal(panel.high, expected + 1)
    np.testing.assert_array_equal(panel.volume, expected * 10)


def test_bars_panel_defaults_to_days_and_symbols_with_bars(filled):
    with filled.session() as s:
        panel = bars_panel(s, MON, THU)
    assert panel.symbols == ("AAPL", "MSFT", "TSLA")
    assert panel.shape == (3, 3)
    assert np.isnan(panel.close).sum() == 3


def test_backfill_gap_readers(filled):
    with filled.session() as s:
        assert latest_bar_day(s) == WED
        assert days_with_bars(s, MON, THU) == [MON, TUE, WED]
        assert days_with_bars(s, MON, THU, min_symbols=2) == [MON, WED]
        assert days_with_bars(s, TUE, TUE) == [TUE]
        assert symbols_missing_bar(s, TUE) == ["MSFT", "TSLA"]  # GONE is inactive
        assert symbols_missing_bar(s, TUE, tier=1) == ["MSFT"]
        assert symbols_missing_bar(s, WED) == []
        assert symbols_missing_bar(s, THU) == ["AAPL", "MSFT", "TSLA"]


def test_readers_on_an_empty_database(db):
    with db.session() as s:
        assert latest_bar_day(s) is None
        assert days_with_bars(s, MON, THU) == []
        assert bars_panel(s, MON, THU).shape == (0, 0)
        assert active_symbols(s) == [] and tiers(s) == {}


def test_symbol_filters_longer_than_one_in_list(db):
    symbols = [f"S{i:04d}" for i in range(1200)]
    with db.session() as s, s.begin():
        upsert_bars(s, [bar(sym, MON, float(i)) for i, sym in enumerate(symbols)])
    with db.session() as s:
        wanted = symbols[::2] + ["MISSING"]
        panel = bars_panel(s, MON, MON, symbols=wanted)
        assert panel.shape == (1, 601)
        np.testing.assert_array_equal(panel.close[0, :-1], np.arange(0, 1200, 2, dtype=float))
        assert np.isnan(panel.close[0, -1])


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with db.engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_tickers_with_punctuation_survive_symbol_filters(db):
    odd = ["BRK.B", "O'QUOTE", "A-B", 'Q"T', "PCT%S"]
    with db.session() as s, s.begin():
        upsert_bars(s, [bar(sym, MON, float(i)) for i, sym in enumerate(odd)] + [bar("OTHER", MON, 9.0)])
    with db.session() as s:
        frame = bars_between(s, MON, MON, symbols=odd)
        assert dict(zip(frame["symbol"], frame["close"], strict=True)) == {
            sym: float(i) for i, sym in enumerate(odd)
        }
