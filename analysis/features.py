"""Scale-free model features and the forward-return label, as wide arrays (sessions x symbols).

Every feature is a ratio or a bounded oscillator, so a $5 and a $500 stock are comparable. Fractions are
plain (0.05 = 5 %). A feature is NaN where an input indicator is (too little history, no bar that day).
"""

from __future__ import annotations

import warnings

import numpy as np

from analysis.indicators import compute_indicators, trailing_return
from analysis.panel import Panel

FEATURE_NAMES = (
    "dist_sma_20",  # close / SMA 20 - 1
    "dist_sma_50",
    "dist_sma_200",
    "rsi_14",  # 0..100
    "macd_rel",  # MACD / close
    "macd_hist_rel",  # (MACD - signal) / close
    "bb_pctb",  # (close - lower band) / (upper - lower): 0 at the lower band, 1 at the upper
    "atr_rel",  # ATR 14 / close
    "volume_z",  # today's volume vs the 20 bars before, in standard deviations
    "dist_high_52w",  # close / 52-week high - 1 (<= 0)
    "dist_low_52w",  # close / 52-week low - 1 (>= 0)
    "ret_5",  # trailing returns over 5, 20, 60 bars
    "ret_20",
    "ret_60",
)


def feature_arrays(panel: Panel, indicators: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every feature of ``FEATURE_NAMES`` for every session and symbol of ``panel``.

    ``indicators`` (from ``compute_indicators`` on the same panel) is reused when given.
    """
    ind = (
        indicators
        if indicators is not None
        else compute_indicators(panel.close, panel.high, panel.low, panel.volume)
    )
    c = panel.close
    with np.errstate(invalid="ignore", divide="ignore"):
        width = ind["bb_upper"] - ind["bb_lower"]
        pctb = (c - ind["bb_lower"]) / width
        pctb[~(width > 0)] = np.nan  # a flat band has no position
        out = {
            "dist_sma_20": c / ind["sma_20"] - 1.0,
            "dist_sma_50": c / ind["sma_50"] - 1.0,
            "dist_sma_200": c / ind["sma_200"] - 1.0,
            "rsi_14": ind["rsi_14"],
            "macd_rel": ind["macd"] / c,
            "macd_hist_rel": ind["macd_hist"] / c,
            "bb_pctb": pctb,
            "atr_rel": ind["atr_14"] / c,
            "volume_z": ind["volume_z"],
            "dist_high_52w": c / ind["high_52w"] - 1.0,
            "dist_low_52w": c / ind["low_52w"] - 1.0,
            "ret_5": trailing_return(c, 5),
            "ret_20": trailing_return(c, 20),
            "ret_60": trailing_return(c, 60),
        }
    for values in out.values():
        values[~np.isfinite(values)] = np.nan
    return {name: out[name] for name in FEATURE_NAMES}


def features_on(features: dict[str, np.ndarray], row: int = -1) -> dict[str, np.ndarray]:
    """Each symbol's feature values on one session (default: the last), as 1-D copies."""
    return {name: np.array(values[row], dtype=np.float64) for name, values in features.items()}


def day_features(panel: Panel, features: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each symbol's features on the panel's last session, as the day's scoring uses them.

    A provisional close (from a quote: a close with no volume yet) takes the previous session's volume
    z-score, so the symbol can still be scored; every other feature uses the provisional close itself.
    ``features`` (``feature_arrays`` of the same panel) is reused when given.
    """
    features = feature_arrays(panel) if features is None else features
    today = features_on(features, -1)
    if panel.close.shape[0] > 1:
        provisional = ~np.isfinite(panel.volume[-1]) & np.isfinite(panel.close[-1])
        today["volume_z"] = np.where(provisional, features["volume_z"][-2], today["volume_z"])
    return today


def stack(features: dict[str, np.ndarray], names: tuple[str, ...], rows: np.ndarray) -> np.ndarray:
    """The design matrix for ``rows``: shape (len(rows) * symbols, len(names)), row-major by session."""
    return np.stack([features[name][rows] for name in names], axis=-1).reshape(-1, len(names))


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """Return realised from the close of session t to the close ``horizon`` sessions later (a fraction).

    Counted in sessions, not bars: what a holder would have realised. NaN when either close is missing or
    the later session is beyond the data.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 session, got {horizon}")
    out = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    out[~np.isfinite(out)] = np.nan
    return out


def above_median_labels(fwd: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """1.0 where a forward return beats its session's cross-sectional median (over ``usable`` cells), else 0.0.

    Ties with the median count as 0. NaN where a cell is not usable. Rows are sessions.
    """
    masked = np.where(usable, fwd, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN session has no median
        median = np.nanmedian(masked, axis=1, keepdims=True)
    labels = (masked > median).astype(np.float64)
    labels[~usable] = np.nan
    return labels
