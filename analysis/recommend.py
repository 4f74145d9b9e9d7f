"""Daily recommendations: rank eligible symbols by model score, act by cross-sectional quantile, explain.

A symbol is eligible on ``day`` when it has a bar that day, at least ``min_history`` bars of history, every
model feature, and a score. Eligible symbols are ranked by score (highest first; ties by symbol); the top
``buy_fraction`` of them are "buy", the bottom ``sell_fraction`` "sell", the rest "hold" (counts are
floored, so a tiny universe may have no buys). Every other symbol gets a ``Skipped`` record with the reason.

Reasons describe the symbol's actual indicator values and where its score ranks; they are context for a
reader, not the model's internal explanation of the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from analysis.features import FEATURE_NAMES, day_features
from analysis.indicators import MAX_LOOKBACK_BARS, bar_counts
from analysis.model import TrainedModel, predict
from analysis.panel import Panel
from analysis.quality import last_bar_dates

ACTIONS = ("buy", "hold", "sell")


@dataclass(frozen=True)
class Recommendation:
    symbol: str
    rank: int  # 1 = highest score
    action: str  # "buy", "hold" or "sell"
    score: float  # model probability of beating the median over the horizon
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    symbol: str
    reason: str


@dataclass(frozen=True)
class RecommendConfig:
    buy_fraction: float = 0.10
    sell_fraction: float = 0.10
    min_history: int = MAX_LOOKBACK_BARS  # bars

    def __post_init__(self) -> None:
        for name in ("buy_fraction", "sell_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.buy_fraction + self.sell_fraction > 1:
            raise ValueError("buy_fraction + sell_fraction must not exceed 1")
        if self.min_history < 1:
            raise ValueError(f"min_history must be >= 1 bar, got {self.min_history}")


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.1f} %"


def _score_reason(score: float, rank: int, n: int) -> str:
    if rank <= (n + 1) / 2:
        where = f"top {max(1, math.ceil(rank / n * 100))} %"
    else:
        where = f"bottom {max(1, math.ceil((n - rank + 1) / n * 100))} %"
    return f"model score {score:.3f}, rank {rank:,} of {n:,} ({where})"


def _rsi_reason(rsi: float) -> str:
    state = "oversold" if rsi <= 30 else "overbought" if rsi >= 70 else "neutral"
    return f"RSI 14 = {rsi:.1f} ({state})"


def _trend_reason(dist_sma_200: float) -> str:
    side = "above" if dist_sma_200 >= 0 else "below"
    return f"close {_pct(dist_sma_200)} {side} SMA 200"


def _notable_reason(f: Mapping[str, float]) -> str:
    z = f["volume_z"]
    if abs(z) >= 2:
        return f"volume {abs(z):.1f} σ {'above' if z > 0 else 'below'} its 20-day average"
    if f["dist_high_52w"] >= -0.02:
        return f"within {_pct(f['dist_high_52w'])} of its 52-week high"
    if f["dist_low_52w"] <= 0.02:
        return f"within {_pct(f['dist_low_52w'])} of its 52-week low"
    return f"20-day return {f['ret_20'] * 100:+.1f} %"


def reasons_for(features: Mapping[str, float], score: float, rank: int, n: int) -> tuple[str, ...]:
    """Four short reasons from one symbol's feature values (``FEATURE_NAMES``) and its score's rank."""
    return (
        _score_reason(score, rank, n),
        _rsi_reason(features["rsi_14"]),
        _trend_reason(features["dist_sma_200"]),
        _notable_reason(features),
    )


def recommend(
    day: date,
    symbols: Sequence[str],
    scores: np.ndarray,
    features: Mapping[str, np.ndarray],
    history: np.ndarray,
    last_bar: Mapping[str, date | None],
    config: RecommendConfig | None = None,
) -> tuple[list[Recommendation], list[Skipped]]:
    """Recommendations for ``day`` (ranked, rank 1 first) and the skipped symbols (in input order).

    Arrays are aligned with ``symbols``: ``scores`` from ``model.predict``, ``features`` as
    ``{name: values}`` on ``day``, ``history`` the number of bars each symbol has up to ``day``;
    ``last_bar`` maps symbol -> date of its latest bar (None if it has none).
    """
    config = config or RecommendConfig()
    n = len(symbols)
    for name, values in [("scores", scores), ("history", history), *features.items()]:
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} symbols")
    missing = [name for name in FEATURE_NAMES if name not in features]
    if missing:
        raise ValueError(f"missing feature(s): {', '.join(missing)}")

    skipped: list[Skipped] = []
    eligible: list[int] = []
    for j, symbol in enumerate(symbols):
        last = last_bar.get(symbol)
        if last != day:
            seen = f"last bar {last.isoformat()}" if last else "no bars at all"
            skipped.append(Skipped(symbol, f"no bar for {day.isoformat()} ({seen})"))
        elif history[j] < config.min_history:
            skipped.append(
                Skipped(symbol, f"only {int(history[j])} days of history (needs {config.min_history})")
            )
        elif absent := [name for name in FEATURE_NAMES if not math.isfinite(features[name][j])]:
            skipped.append(Skipped(symbol, f"no value for {', '.join(absent)}"))
        elif not math.isfinite(scores[j]):
            skipped.append(Skipped(symbol, "no model score"))
        else:
            eligible.append(j)

    ordered = sorted(eligible, key=lambda j: (-scores[j], symbols[j]))
    total = len(ordered)
    n_buy, n_sell = math.floor(total * config.buy_fraction), math.floor(total * config.sell_fraction)
    recommendations = []
    for rank, j in enumerate(ordered, start=1):
        action = "buy" if rank <= n_buy else "sell" if rank > total - n_sell else "hold"
        values = {name: float(features[name][j]) for name in FEATURE_NAMES}
        recommendations.append(
            Recommendation(
                symbols[j], rank, action, float(scores[j]), reasons_for(values, float(scores[j]), rank, total)
            )
        )
    return recommendations, skipped


def day_scores(
    panel: Panel, day: date, model: TrainedModel | None
) -> tuple[Panel, dict[str, np.ndarray], np.ndarray]:
    """The panel as known at ``day``'s close, each symbol's features on ``day`` (``day_features``:
    provisional closes included) and its model score (all NaN without a model)."""
    known = panel.upto(day)
    today = day_features(known)
    if model is None:
        return known, today, np.full(len(known.symbols), np.nan)
    return known, today, predict(model, today)


def daily_recommendations(
    panel: Panel, day: date, model: TrainedModel | None, config: RecommendConfig | None = None
) -> tuple[list[Recommendation], list[Skipped]]:
    """The day's ranked list from a panel and the model (sessions after ``day`` ignored): the one path
    production (``tasks.recommendations.recommend_day``), ``make validate`` and the report all use.
    Without a model every symbol is skipped with "no model score"."""
    known, today, scores = day_scores(panel, day, model)
    history = bar_counts(known.close)[-1]
    return recommend(day, known.symbols, scores, today, history, last_bar_dates(known), config)
