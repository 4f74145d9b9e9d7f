"""Indicators against independent, plain-loop implementations and hand-computed values."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from analysis.indicators import INDICATOR_NAMES, bar_counts, compute_indicators, latest, sma, trailing_return
from analysis.panel import PanelError

NAN = float("nan")

# --- reference implementations: one symbol, a list of bars (missing days already dropped) ----------------


def ref_sma(xs, n):
    return [sum(xs[i - n + 1 : i + 1]) / n if i >= n - 1 else NAN for i in range(len(xs))]


def ref_recursive(xs, n, alpha, first):
    """Seeded with the mean of xs[first : first + n]; NaN before."""
    out, prev = [NAN] * len(xs), None
    for i in range(first + n - 1, len(xs)):
        prev = sum(xs[first : first + n]) / n if prev is None else alpha * xs[i] + (1 - alpha) * prev
        out[i] = prev
    return out


def ref_ema(xs, n, first=0):
    return ref_recursive(xs, n, 2 / (n + 1), first)


def ref_rsi(xs, n=14):
    gains = [NAN] + [max(xs[i] - xs[i - 1], 0.0) for i in range(1, len(xs))]
    losses = [NAN] + [max(xs[i - 1] - xs[i], 0.0) for i in range(1, len(xs))]
    ag, al = ref_recursive(gains, n, 1 / n, 1), ref_recursive(losses, n, 1 / n, 1)
    out = []
    for g, lo in zip(ag, al, strict=True):
        if math.isnan(g):
            out.append(NAN)
        elif g + lo == 0:
            out.append(50.0)
        else:
            out.append(100 - 100 / (1 + g / lo) if lo > 0 else 100.0)
    return out


def ref_macd(xs):
    fast, slow = ref_ema(xs, 12), ref_ema(xs, 26)
    macd = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = ref_ema(macd, 9, first=25) if len(xs) >= 26 else [NAN] * len(xs)
    return macd, signal, [m - s for m, s in zip(macd, signal, strict=True)]


def ref_bollinger(xs, n=20, k=2.0):
    mid = ref_sma(xs, n)
    sd = [statistics.pstdev(xs[i - n + 1 : i + 1]) if i >= n - 1 else NAN for i in range(len(xs))]
    return (
        [m + k * s for m, s in zip(mid, sd, strict=True)],
        mid,
        [m - k * s for m, s in zip(mid, sd, strict=True)],
    )


def ref_atr(h, lo, c, n=14):
    tr = [NAN] + [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))]
    return ref_recursive(tr, n, 1 / n, 1)


def ref_volume_z(v, n=20):
    out = []
    for i in range(len(v)):
        if i < n:
            out.append(NAN)
            continue
        window = v[i - n : i]
        sd = statistics.pstdev(window)
        out.append((v[i] - statistics.fmean(window)) / sd if sd > 0 else NAN)
    return out


def ref_extreme(xs, n, fn):
    return [fn(xs[i - n + 1 : i + 1]) if i >= n - 1 else NAN for i in range(len(xs))]


def per_symbol(present, compute, *columns):
    """Run ``compute`` on each symbol's present bars and put the results back on their sessions."""
    t, s = present.shape
    outs = None
    for j in range(s):
        rows = np.flatnonzero(present[:, j])
        results = compute(*[[float(col[r, j]) for r in rows] for col in columns])
        results = results if isinstance(results, tuple) else (results,)
        if outs is None:
            outs = [np.full((t, s), np.nan) for _ in results]
        for out, res in zip(outs, results, strict=True):
            out[rows, j] = res
    return outs


def make_bars(seed, t, s):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (t, s)), axis=0))
    high = close * (1 + rng.uniform(0, 0.03, (t, s)))
    low = close * (1 - rng.uniform(0, 0.03, (t, s)))
    volume = rng.lognormal(11, 0.6, (t, s)).round()
    return close, high, low, volume


GAP_PATTERNS = {
    "no gaps": lambda t: np.ones(t, bool),
    "random gaps": lambda t: np.random.default_rng(7).random(t) > 0.1,
    "late listing": lambda t: np.arange(t) >= 40,
    "delisted": lambda t: np.arange(t) < t - 30,
    "too short": lambda t: np.arange(t) >= t - 19,
    "never traded": lambda t: np.zeros(t, bool),
}


@pytest.fixture(scope="module")
def gappy_bars():
    t = 300
    close, high, low, volume = make_bars(1, t, len(GAP_PATTERNS))
    present = np.column_stack([make(t) for make in GAP_PATTERNS.values()])
    close[~present] = np.nan
    high[~present] = np.nan
    high[100, 1] = np.nan  # a bar with a close but no high: ATR and the 52-week range skip it
    volume[~present] = np.nan
    volume[5, 0] = np.nan  # a bar with a price but no volume
    return close, high, low, volume, present


def test_names_and_shapes(gappy_bars):
    close, high, low, volume, _ = gappy_bars
    out = compute_indicators(close, high, low, volume)
    assert tuple(out) == INDICATOR_NAMES
    assert all(v.shape == close.shape and v.dtype == np.float64 for v in out.values())
    assert set(latest(out)) == set(INDICATOR_NAMES)
    assert latest(out)["sma_20"].shape == (close.shape[1],)


CASES = [
    (["sma_20"], lambda c, h, lo: ref_sma(c, 20)),
    (["sma_50"], lambda c, h, lo: ref_sma(c, 50)),
    (["sma_200"], lambda c, h, lo: ref_sma(c, 200)),
    (["ema_20"], lambda c, h, lo: ref_ema(c, 20)),
    (["ema_50"], lambda c, h, lo: ref_ema(c, 50)),
    (["ema_200"], lambda c, h, lo: ref_ema(c, 200)),
    (["rsi_14"], lambda c, h, lo: ref_rsi(c)),
    (["macd", "macd_signal", "macd_hist"], lambda c, h, lo: ref_macd(c)),
    (["bb_upper", "bb_middle", "bb_lower"], lambda c, h, lo: ref_bollinger(c)),
    (["atr_14"], lambda c, h, lo: ref_atr(h, lo, c)),
    (["high_52w"], lambda c, h, lo: ref_extreme(h, 252, max)),
    (["low_52w"], lambda c, h, lo: ref_extreme(lo, 252, min)),
]


@pytest.mark.parametrize(("names", "reference"), CASES, ids=[c[0][0] for c in CASES])
def test_matches_the_loop_reference_with_missing_days_skipped(gappy_bars, names, reference):
    close, high, low, volume, _ = gappy_bars
    out = compute_indicators(close, high, low, volume)
    uses_range = names[0] in {"atr_14", "high_52w", "low_52w"}
    present = np.isfinite(close) & (np.isfinite(high) & np.isfinite(low) if uses_range else True)
    expected = per_symbol(present, lambda c, h, lo: reference(c, h, lo), close, high, low)
    for name, exp in zip(names, expected, strict=True):
        np.testing.assert_allclose(out[name], exp, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=name)


def test_volume_z_matches_the_loop_reference(gappy_bars):
    close, high, low, volume, _ = gappy_bars
    out = compute_indicators(close, high, low, volume)
    (expected,) = per_symbol(np.isfinite(volume), ref_volume_z, volume)
    np.testing.assert_allclose(out["volume_z"], expected, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_values_exist_only_where_there_is_a_bar(gappy_bars):
    close, high, low, volume, present = gappy_bars
    out = compute_indicators(close, high, low, volume)
    for name, values in out.items():
        assert not np.isfinite(values[~present]).any(), name
    # enough history in the full column: the long indicators do have values
    assert np.isfinite(out["sma_200"][:, 0]).sum() == 300 - 199
    assert np.isfinite(out["high_52w"][:, 0]).sum() > 0


def linear(n, start=1.0, step=1.0):
    return (start + step * np.arange(n, dtype=float))[:, None]


def run_single(close, high=None, low=None, volume=None):
    high = close if high is None else high
    low = close if low is None else low
    volume = np.full(close.shape, np.nan) if volume is None else volume
    return {k: v[:, 0] for k, v in compute_indicators(close, high, low, volume).items()}


HAND = [
    # name, close series, row, expected value
    ("sma_20", linear(30), -1, 20.5),  # mean of 11..30
    ("sma_20", linear(20), -1, 10.5),
    ("sma_20", linear(19), -1, NAN),  # insufficient history
    ("sma_50", linear(60), -1, 35.5),
    ("ema_20", np.full((40, 1), 7.0), -1, 7.0),
    ("ema_20", linear(40), -1, 40 - 9.5),  # EMA of a unit ramp lags by (n - 1) / 2
    ("rsi_14", linear(30), -1, 100.0),  # monotonic up
    ("rsi_14", linear(30, 100, -1), -1, 0.0),  # monotonic down
    ("rsi_14", np.full((30, 1), 5.0), -1, 50.0),  # no movement
    ("rsi_14", linear(14), -1, NAN),  # needs 15 closes
    ("rsi_14", linear(15), -1, 100.0),
    ("macd", linear(40), -1, 7.0),  # (26 - 1) / 2 - (12 - 1) / 2
    ("macd_signal", linear(40), -1, 7.0),
    ("macd_hist", linear(40), -1, 0.0),
    ("macd_signal", linear(33), -1, NAN),  # needs 26 + 9 - 1 bars
    ("bb_upper", np.full((25, 1), 3.0), -1, 3.0),
    ("bb_lower", np.full((25, 1), 3.0), -1, 3.0),
    ("bb_upper", np.array([[1.0], [3.0]] * 10), -1, 2.0 + 2 * 1.0),  # mean 2, population sd 1
]


@pytest.mark.parametrize(("name", "close", "row", "expected"), HAND)
def test_hand_computed_values(name, close, row, expected):
    got = run_single(close)[name][row]
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-9)


ATR_CASES = [
    # close, high, low, expected ATR 14 at the last bar
    (np.full((20, 1), 10.0), np.full((20, 1), 11.0), np.full((20, 1), 9.0), 2.0),
    # a unit ramp with a one-unit range: the gap up from the previous close dominates (1.5)
    (linear(20), linear(20) + 0.5, linear(20) - 0.5, 1.5),
    (np.full((14, 1), 10.0), np.full((14, 1), 11.0), np.full((14, 1), 9.0), NAN),  # needs 15 bars
]


@pytest.mark.parametrize(("close", "high", "low", "expected"), ATR_CASES)
def test_atr_of_known_bars(close, high, low, expected):
    got = run_single(close, high, low)["atr_14"][-1]
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_52_week_range_and_volume_z_by_hand():
    out = run_single(linear(300))
    assert out["high_52w"][-1] == 300.0
    assert out["low_52w"][-1] == 300.0 - 251
    assert math.isnan(out["high_52w"][250])
    flat = run_single(linear(21), volume=np.array([[100.0]] * 20 + [[500.0]]))
    assert math.isnan(flat["volume_z"][-1])  # constant volume: z undefined
    spike = run_single(linear(21), volume=np.array([[90.0], [110.0]] * 10 + [[130.0]]))
    assert spike["volume_z"][-1] == pytest.approx(3.0)


def test_a_missing_day_is_skipped_not_filled():
    full = linear(60)
    gappy = full.copy()
    gappy[30] = np.nan
    a, b = run_single(full), run_single(gappy)
    assert math.isnan(b["sma_20"][30])
    # after the gap the window holds the last 20 bars, reaching one session further back
    assert b["sma_20"][40] == pytest.approx(np.mean(np.delete(full[:41, 0], 30)[-20:]))
    assert b["sma_20"][40] != pytest.approx(a["sma_20"][40])


TRAILING = [
    (linear(10), 1, -1, 10 / 9 - 1),
    (linear(10), 5, -1, 10 / 5 - 1),
    (linear(5), 5, -1, NAN),
    (np.array([[1.0], [np.nan], [2.0], [4.0]]), 1, 2, 1.0),  # the gap is skipped
    (np.array([[1.0], [np.nan], [2.0], [4.0]]), 1, 1, NAN),
]


@pytest.mark.parametrize(("close", "bars", "row", "expected"), TRAILING)
def test_trailing_return(close, bars, row, expected):
    got = trailing_return(close, bars)[row, 0]
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_bar_counts():
    close = np.array([[np.nan, 1.0], [2.0, np.nan], [3.0, 4.0]])
    assert bar_counts(close).tolist() == [[0, 1], [1, 1], [2, 2]]


@pytest.mark.parametrize(
    ("close", "high"),
    [
        (np.ones((5, 2)), np.ones((5, 3))),
        (np.ones(5), np.ones(5)),
        ([["a", "b"]], [["a", "b"]]),
    ],
)
def test_bad_shapes_are_clear_errors(close, high):
    with pytest.raises(PanelError):
        compute_indicators(close, high, high, high)


@pytest.mark.parametrize(
    ("values", "bars", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 2, [NAN, 1.5, 2.5, 3.5]),
        ([1.0, NAN, 3.0, 5.0], 2, [NAN, NAN, 2.0, 4.0]),
        ([1.0, 2.0], 3, [NAN, NAN]),
    ],
)
def test_public_sma(values, bars, expected):
    np.testing.assert_allclose(sma(np.array(values)[:, None], bars)[:, 0], expected)
