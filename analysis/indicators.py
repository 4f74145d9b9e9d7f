"""Technical indicators, vectorised over every symbol at once.

Input: wide float64 arrays, rows = sessions (oldest first), columns = symbols, NaN (or +-inf) = no bar.
Output: arrays of the same shape, one per indicator name in ``INDICATOR_NAMES``.

Rules (docs/analysis.md has the formulas):

* **Insufficient history gives NaN**, never an estimate: an N-bar window needs N bars of the symbol.
* **Missing days are skipped, not filled.** A window counts the symbol's own last N bars, so a symbol with
  a gap has windows that reach further back in calendar time; the value on a day without a bar is NaN
  (no carry-forward). Which bars count: price indicators (SMA, EMA, RSI, MACD, Bollinger, trailing
  returns) need a finite close; ATR and the 52-week high/low need finite high, low and close; the volume
  z-score needs a finite volume.
* Exponential averages (EMA, MACD, Wilder's RSI and ATR smoothing) are seeded with the simple mean of
  their first N inputs and are recursive after that.

All windows are in bars (sessions with a bar), not calendar days.
"""

from __future__ import annotations

import numpy as np

from analysis.panel import as_matrix

INDICATOR_NAMES = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_20",
    "ema_50",
    "ema_200",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "volume_z",
    "high_52w",
    "low_52w",
)

RSI_BARS = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_BARS, BB_SIGMAS = 20, 2.0
ATR_BARS = 14
VOLUME_Z_BARS = 20
YEAR_BARS = 252  # 52 weeks of sessions

# Longest lookback of any indicator, in bars: a symbol needs this many for a full feature row.
MAX_LOOKBACK_BARS = YEAR_BARS


class _Compactor:
    """Moves each column's bars to the bottom, in order, so every column is leading NaNs then an unbroken run.

    Working on the compacted layout makes "the last N bars" a plain row window; ``scatter`` puts results back
    on the original sessions and NaN on the sessions without a bar.
    """

    def __init__(self, present: np.ndarray) -> None:
        self.present = present
        self.trivial = bool(present.all())
        if not self.trivial:
            order = np.argsort(present, axis=0, kind="stable")
            # Flat positions in the original array of each compacted cell (row-major).
            self.flat = (order * present.shape[1] + np.arange(present.shape[1])).ravel()
            self.kept = present.ravel()[self.flat].reshape(present.shape)

    def gather(self, x: np.ndarray) -> np.ndarray:
        """``x`` in the compacted layout; cells without a bar (per ``present``) become NaN."""
        if self.trivial:
            return x
        y = x.ravel()[self.flat].reshape(x.shape)
        return np.where(self.kept, y, np.nan)

    def scatter(self, y: np.ndarray) -> np.ndarray:
        if self.trivial:
            return y
        out = np.empty(y.size)
        out[self.flat] = y.ravel()
        out = out.reshape(y.shape)
        out[~self.present] = np.nan
        return out


def _cumsum_rows(x: np.ndarray) -> np.ndarray:
    """``np.cumsum(x, axis=0)``, row by row: several times faster on wide C-ordered arrays."""
    out = np.empty_like(x)
    if x.shape[0]:
        out[0] = x[0]
    for i in range(1, x.shape[0]):
        np.add(out[i - 1], x[i], out=out[i])
    return out


def _short(x: np.ndarray, n: int) -> np.ndarray:
    """True where fewer than ``n`` bars end at this row of a compacted array (NaN only leads a column)."""
    short = np.ones(x.shape, dtype=bool)
    if x.shape[0] >= n:
        short[n - 1 :] = np.isnan(x[: x.shape[0] - n + 1])
    return short


def _rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last ``n`` rows of a compacted array; NaN until ``n`` bars exist."""
    # Shift by each column's last value: exact for constant series and little cancellation in the cumsum.
    ref = np.nan_to_num(x[-1:], nan=0.0)
    cs = _cumsum_rows(np.where(np.isnan(x), 0.0, x - ref))
    total = cs.copy()
    total[n:] -= cs[:-n]
    out = total / n + ref
    out[_short(x, n)] = np.nan
    return out


def _rolling_std(x: np.ndarray, n: int, mean: np.ndarray) -> np.ndarray:
    """Population standard deviation (ddof 0) of the last ``n`` rows, two-pass around ``mean``."""
    t = x.shape[0]
    acc = np.full_like(x, np.nan)
    if t >= n:
        acc[n - 1 :] = 0.0
        for k in range(n):
            acc[n - 1 :] += (x[k : t - n + 1 + k] - mean[n - 1 :]) ** 2
    return np.sqrt(acc / n)


def _rolling_extreme(x: np.ndarray, n: int, fn: np.ufunc, empty: float) -> np.ndarray:
    """Rolling max or min over ``n`` rows (van Herk/Gil-Werman block prefix/suffix scans, O(rows))."""
    t, s = x.shape
    out = np.full_like(x, np.nan)
    if t < n:
        return out
    filled = np.where(np.isnan(x), empty, x)
    blocks = -(-t // n)
    padded = np.full((blocks * n, s), empty)
    padded[:t] = filled
    y = padded.reshape(blocks, n, s)
    prefix = fn.accumulate(y, axis=1).reshape(-1, s)[:t]
    suffix = fn.accumulate(y[:, ::-1], axis=1)[:, ::-1].reshape(-1, s)[:t]
    out[n - 1 :] = fn(suffix[: t - n + 1], prefix[n - 1 :])
    out[_short(x, n)] = np.nan
    return out


def _smoothed(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Recursive average ``a*x + (1-a)*prev`` seeded with the mean of the first ``n`` values (compacted)."""
    seed = _rolling_mean(x, n)
    out = np.full_like(x, np.nan)
    prev = np.full(x.shape[1], np.nan)
    for i in range(x.shape[0]):
        cur = alpha * x[i] + (1.0 - alpha) * prev
        np.copyto(cur, seed[i], where=np.isnan(prev))
        out[i] = cur
        prev = cur
    return out


def _ema(x: np.ndarray, n: int) -> np.ndarray:
    return _smoothed(x, n, 2.0 / (n + 1))


def _wilder(x: np.ndarray, n: int) -> np.ndarray:
    return _smoothed(x, n, 1.0 / n)


def _rsi(c: np.ndarray, n: int) -> np.ndarray:
    delta = np.diff(c, axis=0, prepend=np.nan)
    gain = np.where(delta > 0, delta, 0.0)
    loss = np.where(delta < 0, -delta, 0.0)
    gain[np.isnan(delta)] = np.nan
    loss[np.isnan(delta)] = np.nan
    avg_gain, avg_loss = _wilder(gain, n), _wilder(loss, n)
    total = avg_gain + avg_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi = 100.0 * avg_gain / total
    # No movement at all over the window: neither overbought nor oversold.
    rsi[total == 0] = 50.0
    return rsi


def _price_indicators(close: np.ndarray) -> dict[str, np.ndarray]:
    comp = _Compactor(np.isfinite(close))
    c = comp.gather(close)
    out: dict[str, np.ndarray] = {}
    for n in (20, 50, 200):
        out[f"sma_{n}"] = _rolling_mean(c, n)
        out[f"ema_{n}"] = _ema(c, n)
    out["rsi_14"] = _rsi(c, RSI_BARS)
    macd = _ema(c, MACD_FAST) - _ema(c, MACD_SLOW)
    signal = _ema(macd, MACD_SIGNAL)
    out["macd"], out["macd_signal"], out["macd_hist"] = macd, signal, macd - signal
    middle = out["sma_20"] if BB_BARS == 20 else _rolling_mean(c, BB_BARS)
    width = BB_SIGMAS * _rolling_std(c, BB_BARS, middle)
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = middle + width, middle, middle - width
    return {name: comp.scatter(values) for name, values in out.items()}


def _range_indicators(close: np.ndarray, high: np.ndarray, low: np.ndarray) -> dict[str, np.ndarray]:
    comp = _Compactor(np.isfinite(close) & np.isfinite(high) & np.isfinite(low))
    c, h, lo = comp.gather(close), comp.gather(high), comp.gather(low)
    prev_close = np.vstack([np.full((1, c.shape[1]), np.nan), c[:-1]])
    # True range needs the previous close, so the first bar has none and ATR starts at bar ATR_BARS + 1.
    true_range = np.fmax(h - lo, np.fmax(np.abs(h - prev_close), np.abs(lo - prev_close)))
    true_range[np.isnan(prev_close)] = np.nan
    out = {
        "atr_14": _wilder(true_range, ATR_BARS),
        "high_52w": _rolling_extreme(h, YEAR_BARS, np.maximum, -np.inf),
        "low_52w": _rolling_extreme(lo, YEAR_BARS, np.minimum, np.inf),
    }
    return {name: comp.scatter(values) for name, values in out.items()}


def _volume_z(volume: np.ndarray) -> np.ndarray:
    comp = _Compactor(np.isfinite(volume))
    v = comp.gather(volume)
    # Today's volume against the VOLUME_Z_BARS bars before it (today excluded, so a spike is not diluted).
    before = np.vstack([np.full((1, v.shape[1]), np.nan), v[:-1]])
    mean = _rolling_mean(before, VOLUME_Z_BARS)
    std = _rolling_std(before, VOLUME_Z_BARS, mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (v - mean) / std
    z[~(std > 0)] = np.nan  # constant volume: the z-score is undefined, not zero or infinite
    return comp.scatter(z)


def compute_indicators(close: object, high: object, low: object, volume: object) -> dict[str, np.ndarray]:
    """Every indicator of ``INDICATOR_NAMES`` for every symbol and session.

    Arguments are 2-D (sessions x symbols) arrays of the same shape: prices in currency units, volume in
    shares. Returns ``{name: float64 array of that shape}``; NaN where the rules above give no value.
    """
    c = as_matrix("close", close)
    h = as_matrix("high", high, c.shape)
    lo = as_matrix("low", low, c.shape)
    v = as_matrix("volume", volume, c.shape)
    out = _price_indicators(c)
    out.update(_range_indicators(c, h, lo))
    out["volume_z"] = _volume_z(v)
    return {name: out[name] for name in INDICATOR_NAMES}


def latest(indicators: dict[str, np.ndarray], row: int = -1) -> dict[str, np.ndarray]:
    """Each symbol's values on one session (default: the last), as 1-D copies; NaN where it had no bar."""
    return {name: np.array(values[row], dtype=np.float64) for name, values in indicators.items()}


def sma(values: object, bars: int) -> np.ndarray:
    """Simple moving average over each column's last ``bars`` bars (missing days skipped; NaN if too few)."""
    if bars < 1:
        raise ValueError(f"bars must be >= 1, got {bars}")
    x = as_matrix("values", values)
    comp = _Compactor(np.isfinite(x))
    return comp.scatter(_rolling_mean(comp.gather(x), bars))


def trailing_return(close: object, bars: int) -> np.ndarray:
    """``close / close bars ago - 1`` per symbol and session, counting bars (missing days skipped).

    A fraction (0.05 = +5 %); NaN until the symbol has ``bars + 1`` bars and on sessions without a bar.
    """
    if bars < 1:
        raise ValueError(f"bars must be >= 1, got {bars}")
    c_all = as_matrix("close", close)
    comp = _Compactor(np.isfinite(c_all))
    c = comp.gather(c_all)
    out = np.full_like(c, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[bars:] = c[bars:] / c[:-bars] - 1.0
    return comp.scatter(out)


def bar_counts(close: object) -> np.ndarray:
    """How many bars (finite closes) each symbol has up to and including each session (int64)."""
    return _cumsum_rows(np.isfinite(as_matrix("close", close)).astype(np.int64))


def indicator_rows(panel, day) -> list[dict]:
    """The indicator values on the panel's last session (``day``), one row per symbol that has a bar (or a
    provisional close) there: ``{"symbol", "day", <indicator>: float or None}``, NaN stored as None."""
    values = latest(compute_indicators(panel.close, panel.high, panel.low, panel.volume))
    has_bar = np.isfinite(panel.close[-1])
    rows = []
    for j, symbol in enumerate(panel.symbols):
        if has_bar[j]:
            row = {"symbol": symbol, "day": day}
            row.update({name: (float(v[j]) if np.isfinite(v[j]) else None) for name, v in values.items()})
            rows.append(row)
    return rows
