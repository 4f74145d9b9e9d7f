"""Data-quality checks from tables of hand-made situations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from analysis.panel import Panel
from analysis.quality import (
    QualityConfig,
    _split_factor,
    bad_bars,
    freshness,
    last_bar_dates,
    missing_bars,
    price_jumps,
    run_checks,
    stale_quotes,
    zero_volume,
)

NAN = np.nan
D1, D2, D3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


@pytest.mark.parametrize(
    ("last_bar", "tiers", "expected"),
    [
        ({"A": D3, "B": D3}, {"A": "core", "B": "core"}, {"tier:core": (1.0, True)}),
        ({"A": D3, "B": D2}, {"A": "core", "B": "core"}, {"tier:core": (0.5, False)}),
        ({"A": D3}, {"A": "core", "B": "core"}, {"tier:core": (0.5, False)}),  # B unknown: no bar
        (
            {"A": D3, "B": None},
            {"A": "core", "B": "tail"},
            {"tier:core": (1.0, True), "tier:tail": (0.0, False)},
        ),
        (
            {s: D3 for s in "ABCDEFGHIJKLMNOPQRST"} | {"U": D2},
            dict.fromkeys("ABCDEFGHIJKLMNOPQRSTU", "all"),
            {"tier:all": (20 / 21, True)},
        ),
    ],
)
def test_freshness_per_tier(last_bar, tiers, expected):
    results = freshness(last_bar, tiers, D3, min_share=0.95)
    assert {r.scope: (pytest.approx(r.value), r.ok) for r in results} == expected
    assert all(r.check == "freshness" and r.threshold == 0.95 for r in results)


def test_freshness_names_the_symbols_without_a_bar():
    (result,) = freshness({"A": D3, "B": D2}, {"A": "core", "B": "core"}, D3)
    assert "1 of 2" in result.detail and "B" in result.detail and "2026-11-25" in result.detail


@pytest.mark.parametrize(
    ("close", "window", "ratio"),
    [
        ([[1, 1], [1, 1], [1, 1]], 3, 0.0),
        ([[1, 1], [NAN, 1], [1, 1]], 3, 1 / 6),
        ([[NAN, 1], [NAN, 1], [1, 1]], 3, 0.0),  # listed on the last day: nothing expected before
        ([[1, 1], [1, NAN], [1, NAN]], 3, 2 / 6),  # stopped trading: counted as missing
        ([[1, 1], [NAN, 1], [1, 1]], 1, 0.0),  # the gap is outside the window
        ([[NAN, NAN], [NAN, NAN]], 2, 0.0),
    ],
)
def test_missing_bar_ratio(close, window, ratio):
    (result,) = missing_bars(np.array(close, dtype=float), ["A", "B"], window=window, max_ratio=0.1)
    assert result.value == pytest.approx(ratio)
    assert result.ok == (ratio <= 0.1)


@pytest.mark.parametrize(
    ("ratio", "split"),
    [
        (0.5, "2:1"),
        (0.52, "2:1"),
        (1 / 3, "3:1"),
        (2 / 3, "1.5:1"),
        (10.0, "1:10"),
        (4.1, "1:4"),
        (0.42, None),
        (1.6, None),
        (0.15, None),
        (1.5, None),  # +50 %: there is no 2:3 reverse split
    ],
)
def test_split_factor(ratio, split):
    assert _split_factor(ratio, QualityConfig(split_tolerance=0.05)) == split


def test_price_jumps_flag_only_unexplained_moves():
    prev = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, NAN]
    last = [15.0, 5.0, 100.0, 13.0, NAN, 3.0, 50.0]
    #       +50 %  2:1   1:10  +30 %  none  -70 %  first bar
    close = np.array([[10.0] * 7, prev, last])
    close[0, 6] = close[1, 6] = NAN
    symbols = ["UP", "SPLIT", "REV", "CALM", "GONE", "CRASH", "NEW"]
    results = price_jumps(close, symbols, [D1, D2, D3])
    flagged = {r.scope: r for r in results if r.scope.startswith("symbol:")}
    assert set(flagged) == {"symbol:UP", "symbol:CRASH"}
    assert flagged["symbol:UP"].value == pytest.approx(0.5)
    assert "+50.0 %" in flagged["symbol:UP"].detail
    summary = next(r for r in results if r.check == "price_jump" and r.scope == "all")
    assert summary.value == pytest.approx(2 / 5)  # GONE has no bar; NEW has no previous close
    assert not summary.ok
    info = next(r for r in results if r.check == "split_like_jump")
    assert info.value == 2 and "SPLIT (2:1)" in info.detail and "REV (1:10)" in info.detail


def test_a_jump_across_a_gap_is_measured_from_the_previous_bar():
    close = np.array([[10.0], [NAN], [16.0]])
    results = price_jumps(close, ["GAP"], [D1, D2, D3])
    assert [r.scope for r in results if not r.ok] == ["all", "symbol:GAP"]


@pytest.mark.parametrize(
    ("volume", "zero_symbols", "ok"),
    [
        ([100.0, 200.0, 300.0], [], True),
        ([0.0, 200.0, 300.0], ["A"], False),
        ([0.0, NAN, 0.0], ["A", "C"], False),
    ],
)
def test_zero_volume(volume, zero_symbols, ok):
    close = np.array([[1.0, 1.0, 1.0]])
    results = zero_volume(close, np.array([volume]), ["A", "B", "C"], D3, max_share=0.01)
    assert results[0].ok == ok
    assert [r.scope for r in results[1:]] == [f"symbol:{s}" for s in zero_symbols]


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ages_h", "stale"),
    [
        ({"A": 1, "B": 23.9}, []),
        ({"A": 1, "B": 24.5}, ["B"]),
        ({"A": 48, "B": 72}, ["A", "B"]),
    ],
)
def test_stale_quotes(ages_h, stale):
    times = {s: NOW - timedelta(hours=h) for s, h in ages_h.items()}
    results = stale_quotes(times, NOW, max_age_hours=24)
    assert [r.scope for r in results[1:]] == [f"symbol:{s}" for s in stale]
    assert results[0].value == pytest.approx(len(stale) / len(ages_h))
    for r in results[1:]:
        assert r.value == pytest.approx(ages_h[r.scope.removeprefix("symbol:")])


def test_naive_times_are_a_clear_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        stale_quotes({"A": datetime(2026, 11, 26)}, NOW)


def small_panel():
    close = np.array([[10.0, 20.0, NAN], [10.5, 20.0, NAN], [10.6, 30.0, 5.0]])
    volume = np.array([[1e5, 1e5, NAN], [1e5, 1e5, NAN], [1e5, 0.0, 1e3]])
    return Panel((D1, D2, D3), ("A", "B", "C"), close, close, close, volume)


def test_last_bar_dates():
    panel = small_panel().take_rows(slice(0, 2))
    assert last_bar_dates(panel) == {"A": D2, "B": D2, "C": None}


def test_run_checks_covers_every_check():
    results = run_checks(
        small_panel(), D3, {"A": "core", "B": "core", "C": "tail"}, {"A": NOW - timedelta(hours=30)}, NOW
    )
    checks = {(r.check, r.scope): r.ok for r in results}
    assert checks[("freshness", "tier:core")] and checks[("freshness", "tier:tail")]
    assert checks[("price_jump", "symbol:B")] is False  # +50 %
    assert checks[("zero_volume", "symbol:B")] is False
    assert checks[("stale_quote", "symbol:A")] is False
    assert checks[("bad_bar", "all")]
    assert ("missing_bars", "all") in checks


def test_run_checks_reports_a_missing_session():
    results = run_checks(small_panel(), date(2026, 11, 27), {"A": "core"})
    assert ("session_present", "all", False) in {(r.check, r.scope, r.ok) for r in results}
    assert next(r for r in results if r.check == "freshness").value == 0.0


@pytest.mark.parametrize(
    ("close", "high", "low", "problem"),
    [
        (10.0, 10.5, 9.5, None),
        (10.0, 10.0, 10.0, None),
        (10.0, 10.0 + 1e-9, 10.0, None),  # rounding is not an error
        (0.0, 0.0, 0.0, "price <= 0"),
        (10.0, 9.0, 9.5, "high < low; close outside [low, high]"),
        (11.0, 10.5, 9.5, "close outside [low, high]"),
        (NAN, 10.5, 9.5, None),  # no bar: nothing to check
    ],
)
def test_bad_bars(close, high, low, problem):
    arr = lambda v: np.array([[v, 10.0]])  # noqa: E731 - the second symbol is always fine
    panel = Panel((D3,), ("X", "OK"), arr(close), arr(high), arr(low), arr(1e5))
    results = bad_bars(panel, D3)
    assert results[0].ok == (problem is None)
    flagged = [(r.scope, r.detail) for r in results[1:]]
    assert flagged == ([("symbol:X", f"{problem} on 2026-11-25")] if problem else [])


def test_a_check_is_stored_as_a_row_with_its_text_under_detail():
    from analysis.quality import QualityResult
    from jobs.analysis import quality_row

    row = quality_row(QualityResult("coverage", "tier:1", 0.97, 0.95, True, "97% have a bar"))
    assert row == {"check": "coverage", "scope": "tier:1", "value": 0.97, "threshold": 0.95, "ok": True,
                   "detail": {"text": "97% have a bar"}}  # fmt: skip
