"""Idempotent writers on a real database: SQLite file and (TEST_DATABASE_URL) PostgreSQL in a private schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage import (
    StorageError,
    clear_stale,
    latest_model_version,
    latest_quotes,
    mark_stale,
    recommendations_for,
    replace_quality,
    replace_recommendations,
    stale_for,
    upsert_bars,
    upsert_indicators,
    upsert_model_version,
    upsert_predictions,
    upsert_quality,
    upsert_quotes,
    upsert_symbols,
)
from storage.models import DailyBar, DataQuality, Indicator, Prediction, Quote, Recommendation, Symbol

D1, D2, D3 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27)
T0 = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@dataclass(frozen=True)
class Bar:  # the shape of providers' DailyBar record
    symbol: str
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None
    adjusted: bool
    source: str
    fetched_at: datetime


def bar(symbol, day, close, fetched_at=T0):
    return Bar(symbol, day, close - 1, close + 1, close - 2, close, 1000.0, None, True, "polygon", fetched_at)


def test_bars_upsert_is_idempotent_and_updated_values_win(db):
    first = [bar("AAPL", D1, 10.0), bar("AAPL", D2, 11.0), bar("MSFT", D1, 20.0)]
    with db.session() as s, s.begin():
        assert upsert_bars(s, first) == 3
    with db.session() as s, s.begin():
        assert upsert_bars(s, first) == 3
    assert count(db, DailyBar) == 3

    later = T0 + timedelta(hours=1)
    corrected = [bar("AAPL", D2, 11.5, later), bar("MSFT", D2, 21.0, later)]
    with db.session() as s, s.begin():
        assert upsert_bars(s, corrected) == 2
    assert count(db, DailyBar) == 4
    with db.session() as s:
        row = s.get(DailyBar, ("AAPL", D2))
        assert (row.close, row.high, row.fetched_at) == (11.5, 12.5, later)
        assert s.get(DailyBar, ("AAPL", D1)).close == 10.0


def test_ten_thousand_rows_in_one_call_are_chunked_and_all_written(db):
    days = [D1 + timedelta(days=i) for i in range(100)]
    rows = [
        {
            "symbol": f"S{j:03d}",
            "day": d,
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.0 + j,
            "volume": 5.0,
        }
        | {"source": "polygon"}
        for j in range(100)
        for d in days
    ]
    with db.session() as s, s.begin():
        assert upsert_bars(s, rows) == 10_000
    with db.session() as s, s.begin():
        assert upsert_bars(s, [r | {"close": -r["close"]} for r in rows]) == 10_000
    assert count(db, DailyBar) == 10_000
    with db.session() as s:
        assert s.scalar(select(func.sum(DailyBar.close))) == pytest.approx(-sum(r["close"] for r in rows))


def test_a_failure_rolls_back_the_callers_whole_transaction(db):
    with pytest.raises(IntegrityError), db.session() as s, s.begin():
        upsert_bars(s, [bar("AAPL", D1, 10.0)])
        upsert_predictions(s, [{"symbol": "AAPL", "day": D1, "model_version": "unregistered", "score": 0.1}])
    assert count(db, DailyBar) == 0
    assert count(db, Prediction) == 0


@dataclass(frozen=True)
class SymbolInfo:  # the shape of providers' SymbolInfo
    symbol: str
    name: str
    exchange: str
    type: str
    currency: str
    active: bool
    source: str


def test_symbol_listing_updates_keep_operator_and_tier_fields(db):
    with db.session() as s, s.begin():
        upsert_symbols(s, [SymbolInfo("AAPL", "Apple", "XNAS", "Common Stock", "USD", True, "finnhub")])
        upsert_symbols(s, [{"ticker": "AAPL", "tier": 1, "pinned_tier": 2, "listed_on": "1980-12-12"}])
    with db.session() as s, s.begin():
        upsert_symbols(s, [SymbolInfo("AAPL", "Apple Inc.", "XNAS", "Common Stock", "USD", True, "polygon")])
    with db.session() as s:
        row = s.get(Symbol, "AAPL")
        assert (row.name, row.source, row.tier, row.pinned_tier, row.listed_on) == (
            "Apple Inc.",
            "polygon",
            1,
            2,
            date(1980, 12, 12),
        )
    assert count(db, Symbol) == 1


def test_new_symbols_take_model_defaults(db):
    with db.session() as s, s.begin():
        upsert_symbols(s, [{"symbol": "NEW", "name": "New Co"}])
    with db.session() as s:
        row = s.get(Symbol, "NEW")
        assert (row.tier, row.pinned_tier, row.active, row.currency) == (3, None, True, "USD")
        assert row.updated_at.tzinfo is not None


def test_quotes_key_on_the_instant_whatever_its_offset(db):
    eastern = timezone(timedelta(hours=-5))
    same_instant = [
        {"symbol": "AAPL", "at": T0, "price": 100.0, "source": "finnhub"},
        {
            "symbol": "AAPL",
            "at": datetime(2026, 11, 27, 16, 0, tzinfo=eastern),
            "price": 101.0,
            "source": "finnhub",
        },
    ]
    with db.session() as s, s.begin():
        upsert_quotes(s, same_instant[:1])
        upsert_quotes(s, same_instant[1:])
        upsert_quotes(
            s, [{"symbol": "AAPL", "at": T0 - timedelta(hours=3), "price": 90.0, "source": "finnhub"}]
        )
        upsert_quotes(s, [{"symbol": "MSFT", "at": T0 - timedelta(days=1), "price": 50.0, "source": "yahoo"}])
    assert count(db, Quote) == 3
    with db.session() as s:
        latest = latest_quotes(s)
        assert {k: (q.price, q.at) for k, q in latest.items()} == {
            "AAPL": (101.0, T0),
            "MSFT": (50.0, T0 - timedelta(days=1)),
        }
        assert set(latest_quotes(s, ["MSFT", "NOPE"])) == {"MSFT"}


def test_indicator_nan_is_stored_as_null(db):
    row = {"symbol": "AAPL", "day": D1, "sma_20": 10.5, "sma_200": float("nan"), "rsi_14": 55.0}
    with db.session() as s, s.begin():
        assert upsert_indicators(s, [row, row]) == 1
    with db.session() as s:
        got = s.get(Indicator, ("AAPL", D1))
        assert (got.sma_20, got.sma_200, got.rsi_14, got.macd) == (10.5, None, 55.0, None)


def model(version, trained_at):
    return {
        "version": version,
        "trained_at": trained_at,
        "horizon_days": 5,
        "features": ["rsi_14", "ret_5"],
        "metrics": {"auc": 0.53, "rank_ic": 0.02, "folds": [{"auc": 0.52}]},
        "artifact": f"var/models/{version}.pkl",
    }


def test_model_versions_and_predictions(db):
    with db.session() as s, s.begin():
        upsert_model_version(s, model("m1", T0 - timedelta(days=7)))
        upsert_model_version(s, model("m2", T0))
        rows = [{"symbol": "AAPL", "day": D3, "model_version": "m2", "score": 0.7, "prob_up": 0.6}]
        assert upsert_predictions(s, rows) == 1
        assert upsert_predictions(s, [rows[0] | {"score": 0.8}]) == 1
    with db.session() as s:
        latest = latest_model_version(s)
        assert latest.version == "m2" and latest.metrics["folds"] == [{"auc": 0.52}]
        assert s.get(Prediction, ("AAPL", D3, "m2")).score == 0.8
    assert count(db, Prediction) == 1


@dataclass(frozen=True)
class Pick:  # the shape of analysis' Recommendation record
    symbol: str
    rank: int
    action: str
    score: float
    reasons: tuple[str, ...]


def test_replace_recommendations_is_idempotent_for_the_day(db):
    with db.session() as s, s.begin():
        upsert_model_version(s, model("m1", T0))
    first = [Pick("AAPL", 1, "buy", 0.9, ("RSI 14 = 27.5 (oversold)",)), Pick("MSFT", 2, "hold", 0.5, ())]
    second = [Pick("TSLA", 1, "sell", 0.1, ("close 8.1 % below SMA 200", "model score in bottom 3 %"))]
    with db.session() as s, s.begin():
        assert replace_recommendations(s, D2, first, model_version="m1") == 2
        assert replace_recommendations(s, D3, first, model_version="m1") == 2
    for _ in range(2):
        with db.session() as s, s.begin():
            assert replace_recommendations(s, D3, second, model_version="m1") == 1
    assert count(db, Recommendation) == 3
    with db.session() as s:
        assert [(r.symbol, r.action, r.reasons, r.model_version) for r in recommendations_for(s, D3)] == [
            ("TSLA", "sell", ["close 8.1 % below SMA 200", "model score in bottom 3 %"], "m1")
        ]
        assert [r.symbol for r in recommendations_for(s, D2)] == ["AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (Pick("AAPL", 1, "strong buy", 0.9, ()), "action 'strong buy'"),
        (
            {"symbol": "AAPL", "rank": 1, "action": "buy", "score": 0.9, "reasons": [], "day": "2026-11-24"},
            "dated",
        ),
    ],
)
def test_bad_recommendations_are_refused_and_the_day_is_kept(db, pick, message):
    with db.session() as s, s.begin():
        replace_recommendations(s, D3, [Pick("MSFT", 1, "hold", 0.5, ())])
    with pytest.raises(StorageError, match=message), db.session() as s, s.begin():
        replace_recommendations(s, D3, [pick])
    with db.session() as s:
        assert [r.symbol for r in recommendations_for(s, D3)] == ["MSFT"]


@dataclass(frozen=True)
class QualityResult:  # the shape of analysis' QualityResult record
    check: str
    scope: str
    value: float
    threshold: float
    ok: bool
    detail: str | dict


def test_quality_upserts_by_day_check_and_scope(db):
    results = [
        QualityResult("freshness", "tier:1", 0.99, 0.95, True, "6435 of 6500 fresh"),
        QualityResult("anomalies", "all", 3.0, 0.0, False, {"symbols": ["XYZ", "ABC"]}),
    ]
    with db.session() as s, s.begin():
        assert upsert_quality(s, D3, results) == 2
        assert upsert_quality(s, D3, [QualityResult("freshness", "tier:1", 0.5, 0.95, False, "bad")]) == 1
    assert count(db, DataQuality) == 2
    with db.session() as s:
        fresh = s.get(DataQuality, (D3, "freshness", "tier:1"))
        assert (fresh.value, fresh.ok, fresh.detail) == (0.5, False, {"text": "bad"})
        assert s.get(DataQuality, (D3, "anomalies", "all")).detail == {"symbols": ["XYZ", "ABC"]}


def test_replace_quality_drops_scopes_no_longer_reported(db):
    def skip(symbol):
        return {"check": "not_recommended", "scope": symbol, "value": None, "threshold": None, "ok": False,
                "detail": {"reason": "no bar"}}  # fmt: skip

    with db.session() as s, s.begin():
        upsert_quality(s, D3, [QualityResult("freshness", "tier:1", 0.99, 0.95, True, "ok")])
        assert replace_quality(s, D3, "not_recommended", [skip("AAA"), skip("BBB")]) == 2
    with db.session() as s, s.begin():
        assert replace_quality(s, D3, "not_recommended", [skip("BBB")]) == 1
    with db.session() as s:
        assert s.get(DataQuality, (D3, "not_recommended", "AAA")) is None
        assert s.get(DataQuality, (D3, "not_recommended", "BBB")) is not None
        assert s.get(DataQuality, (D3, "freshness", "tier:1")) is not None  # other checks untouched
    with pytest.raises(StorageError, match="got records of check 'freshness'"), db.session() as s, s.begin():
        replace_quality(s, D3, "not_recommended", [{**skip("CCC"), "check": "freshness"}])


def test_stale_marks_fill_the_last_good_day_from_bars(db):
    with db.session() as s, s.begin():
        upsert_bars(
            s, [bar("AAPL", D1, 10.0), bar("AAPL", D2, 11.0), bar("AAPL", D3, 12.0), bar("MSFT", D1, 5.0)]
        )
        marks = [
            {"symbol": "AAPL", "day": D3, "reason": "finnhub throttled"},
            {"symbol": "MSFT", "day": D3, "reason": "not found"},
            {"symbol": "NEWCO", "day": D3, "reason": "no data yet"},
            {"symbol": "TSLA", "day": D3, "reason": "operator", "last_good_day": D1},
        ]
        assert mark_stale(s, marks) == 4
        assert mark_stale(s, marks[:1]) == 1
    with db.session() as s:
        assert {k: m.last_good_day for k, m in stale_for(s, D3).items()} == {
            "AAPL": D2,
            "MSFT": D1,
            "NEWCO": None,
            "TSLA": D1,
        }
    with db.session() as s, s.begin():
        assert clear_stale(s, D3, ["AAPL", "MSFT", "GONE"]) == 2
    with db.session() as s:
        assert set(stale_for(s, D3)) == {"NEWCO", "TSLA"}


def test_quality_rows_dated_another_day_are_refused(db):
    row = {
        "day": "2026-11-24",
        "check": "freshness",
        "scope": "all",
        "value": 1.0,
        "threshold": 0.9,
        "ok": True,
    }
    with pytest.raises(StorageError, match="dated 2026-11-24"), db.session() as s, s.begin():
        upsert_quality(s, D3, [row])
    assert count(db, DataQuality) == 0
