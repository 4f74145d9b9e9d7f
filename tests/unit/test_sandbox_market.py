"""The synthetic market: determinism, the NYSE calendar, splits, listings and the statistical shape."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pytest

from sandbox.market import Market
from sandbox.universe import EXCHANGES, build_universe

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def universe():
    return build_universe(42, 300)


@pytest.fixture(scope="module")
def market(universe):
    return Market(universe, 42, TODAY)


def test_same_seed_same_market_different_seed_different(universe, market):
    again = Market(build_universe(42, 300), 42, TODAY)
    assert [s.symbol for s in again.universe.securities] == [s.symbol for s in universe.securities]
    np.testing.assert_array_equal(again.close, market.close)
    np.testing.assert_array_equal(again.volume, market.volume)
    other_universe = build_universe(7, 300)
    assert [s.symbol for s in other_universe.securities] != [s.symbol for s in universe.securities]
    other = Market(universe, 7, TODAY)  # same securities, other seed: other prices
    assert not np.allclose(other.close, market.close)


def test_a_bar_does_not_depend_on_when_the_sandbox_started(universe, market):
    earlier = Market(universe, 42, TODAY - timedelta(days=45))
    common = [d for d in earlier.days if d in market.index]
    assert len(common) > 400
    a = [market.index[d] for d in common]
    b = [earlier.index[d] for d in common]
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(
            getattr(market, name)[a], getattr(earlier, name)[b], rtol=2e-6, err_msg=name
        )


@pytest.mark.parametrize(
    ("day", "session"),
    [
        (date(2025, 11, 27), False),  # Thanksgiving
        (date(2025, 12, 25), False),  # Christmas
        (date(2026, 1, 19), False),  # Martin Luther King Jr. Day
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 7, 3), False),  # Independence Day observed (4 July is a Saturday)
        (date(2026, 11, 21), False),  # a Saturday
        (date(2026, 11, 22), False),  # a Sunday
        (date(2025, 11, 28), True),  # the half day after Thanksgiving
        (date(2025, 12, 24), True),  # Christmas Eve half day
        (date(2026, 11, 24), True),  # an ordinary Tuesday
    ],
)
def test_sessions_follow_the_nyse_calendar(market, day, session):
    assert (day in market.index) is session


def test_half_days_are_present_and_flagged(market):
    for day in (date(2025, 11, 28), date(2025, 12, 24)):
        row = market.index[day]
        assert market.half_day[row]
        assert market.close_ts[row] - market.open_ts[row] == pytest.approx(3.5 * 3600)
    assert not market.half_day[market.index[date(2026, 11, 24)]]


def test_history_covers_two_years_and_ends_today(market):
    assert market.days[-1] == TODAY
    assert market.days[0] <= date(2024, 11, 25)
    assert all(d.weekday() < 5 for d in market.days)


def test_ohlc_invariants(market):
    p = market.present
    o, h, lo, c, v = (getattr(market, k)[p] for k in ("open", "high", "low", "close", "volume"))
    assert np.all(lo <= np.minimum(o, c) + 1e-6)
    assert np.all(h >= np.maximum(o, c) - 1e-6)
    assert np.all(lo > 0) and np.all(v > 0)
    for row in (0, 200, len(market.days) - 1):
        b = market.cross_section(row, None)
        ok = b["present"]
        assert np.all(b["low"][ok] <= b["open"][ok]) and np.all(b["high"][ok] >= b["close"][ok])


def test_splits_jump_unadjusted_and_leave_adjusted_smooth(universe, market):
    in_window = [s for s in universe.splits if s.day in market.index and market.index[s.day] > 0]
    assert in_window, "the window holds no split"
    for s in in_window:
        k = market.index[s.day]
        raw = market.series(s.symbol, range(k - 1, k + 1), None)
        adj = market.series(s.symbol, range(k - 1, k + 1), TODAY)
        if not raw["present"].all():
            continue
        jump = np.log(raw["close"][0] / raw["close"][1])
        assert jump == pytest.approx(np.log(s.ratio), abs=0.3), (s, raw["close"])
        assert abs(np.log(adj["close"][0] / adj["close"][1])) < 0.3, (s, adj["close"])
        # adjusted = unadjusted scaled by the splits between the bar and the adjustment date
        later = np.prod([x.ratio for x in universe.splits_of[s.symbol] if s.day <= x.day <= TODAY])
        assert adj["close"][0] == pytest.approx(raw["close"][0] / later, rel=1e-3)
        assert adj["volume"][0] == pytest.approx(raw["volume"][0] * later, rel=1e-3)


def test_listings_delistings_and_halts_shape_the_bars(universe, market):
    first, last = market.days[0], market.days[-1]
    delisted = [s for s in universe.securities if s.delisted and first < s.delisted <= last]
    listed = [s for s in universe.securities if first < s.listed <= last]
    halts = [h for h in universe.halts if first <= h.first and h.last <= last and h.first != h.last]
    assert delisted and listed and halts
    for s in delisted:
        rows = np.flatnonzero(market.present[:, s.index])
        assert market.days[rows[-1]] < s.delisted
    for s in listed:
        rows = np.flatnonzero(market.present[:, s.index])
        assert market.days[rows[0]] >= s.listed
    for h in halts:
        for d, k in market.index.items():
            if h.first <= d <= h.last:
                assert not market.present[k, h.symbol]


def _returns(market):
    close = market.close.astype(np.float64)
    r = np.log(close[1:] / close[:-1])
    ok = market.present[1:] & market.present[:-1]
    # drop split days: they are price jumps, not returns
    for s in market.universe.splits:
        if s.day in market.index and market.index[s.day] > 0:
            ok[market.index[s.day] - 1, s.symbol] = False
    return np.where(ok, r, np.nan)


def test_weak_momentum_is_there_to_be_found(market):
    r = _returns(market)
    trailing = np.full_like(r, np.nan)
    for t in range(20, len(r)):
        trailing[t] = np.nansum(r[t - 20 : t], axis=0)
    x, y = trailing[20:-1], r[21:]
    x = x - np.nanmean(x, axis=1, keepdims=True)  # cross-sectional: the market factor drops out
    y = y - np.nanmean(y, axis=1, keepdims=True)
    ok = np.isfinite(x) & np.isfinite(y)
    slope = np.sum(x[ok] * y[ok]) / np.sum(x[ok] ** 2)
    corr = np.corrcoef(x[ok], y[ok])[0, 1]
    assert 0.002 < slope < 0.05
    assert 0.01 < corr < 0.2  # weak: a model can find it, nobody gets rich


def test_returns_are_correlated_fat_tailed_and_drive_volume(market):
    r = _returns(market)
    ok_cols = np.isfinite(r).all(axis=0)
    sample = r[:, ok_cols][:, :80]
    c = np.corrcoef(sample.T)
    mean_pair = (c.sum() - len(c)) / (len(c) * (len(c) - 1))
    assert 0.05 < mean_pair < 0.6
    z = (sample - sample.mean(axis=0)) / sample.std(axis=0)
    assert np.mean(z**4) > 3.5  # excess kurtosis
    volume = np.log(market.volume[1:][:, ok_cols][:, :80])
    volume = volume - volume.mean(axis=0)
    assert np.corrcoef(np.abs(z).ravel(), volume.ravel())[0, 1] > 0.2


def test_intraday_path_runs_from_open_to_close_inside_the_range(market):
    row = market.index[date(2026, 11, 24)]
    for i in range(0, 300, 37):
        if not market.present[row, i]:
            continue
        o, h, lo, c = (float(getattr(market, k)[row, i]) for k in ("open", "high", "low", "close"))
        assert market.intraday(i, row, 0.0)[0] == pytest.approx(o, rel=1e-6)
        assert market.intraday(i, row, 1.0)[0] == pytest.approx(c, rel=1e-6)
        for frac in (0.1, 0.5, 0.9):
            price, high, low = market.intraday(i, row, frac)
            assert lo - 1e-6 <= low <= price <= high <= h + 1e-6
        assert market.intraday(i, row, 0.4) == market.intraday(i, row, 0.4)


def test_universe_looks_like_the_us_market():
    u = build_universe(42, 6500)
    symbols = [s.symbol for s in u.securities]
    assert len(set(symbols)) == len(symbols)
    assert all(re.fullmatch(r"[A-Z]{1,5}(\.[AB])?", s) for s in symbols)
    classes = [s for s in symbols if s.endswith(".B")]
    assert len(classes) >= 2 and all(s[:-2] + ".A" in u.by_symbol for s in classes)
    assert {s.exchange.mic for s in u.securities} <= {e.mic for e in EXCHANGES.values()}
    assert {"XNYS", "XNAS", "ARCX"} <= {s.exchange.mic for s in u.securities}
    etfs = [s for s in u.securities if s.kind == "ETF"]
    assert 0.02 * 6500 < len(etfs) < 0.12 * 6500 and all(s.exchange.mic == "ARCX" for s in etfs)
    for day in (date(2024, 11, 25), TODAY):
        active = sum(s.active_on(day) for s in u.securities)
        assert 0.95 * 6500 <= active <= 1.05 * 6500
    per_year = sum(1 for s in u.splits if date(2025, 1, 1) <= s.day < date(2026, 1, 1))
    assert 3 <= per_year <= 40
    assert all(re.fullmatch(r"BBG00[0-9B-DF-HJ-NP-TV-Z]{7}", s.figi) for s in u.securities)


def test_universe_size_bounds():
    with pytest.raises(ValueError, match="between 1 and 15000"):
        build_universe(42, 0)
    with pytest.raises(ValueError, match="between 1 and 15000"):
        build_universe(42, 15_001)


def test_single_bar_path_matches_the_series_path(universe, market):
    split_symbols = {s.symbol for s in universe.splits}
    for i in sorted(split_symbols)[:5] + [0, 1, 2]:
        for row in (0, 250, len(market.days) - 1):
            for adjust_to in (None, TODAY, date(2025, 6, 2)):
                b = market.series(i, range(row, row + 1), adjust_to)
                expected = tuple(float(b[k][0]) for k in ("open", "high", "low", "close", "volume"))
                assert market.bar(i, row, adjust_to) == pytest.approx(expected, rel=1e-12, abs=1e-9)
