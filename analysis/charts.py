"""PNG charts for the daily report, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Each function returns PNG bytes; nothing is written to disk.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.indicators import sma
from analysis.quality import QualityResult

OK_COLOUR, BAD_COLOUR = "#2e7d32", "#c62828"


@dataclass(frozen=True)
class PriceHistory:
    """One symbol's closes (currency units), oldest first; NaN for sessions without a bar."""

    dates: Sequence[date]
    close: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.dates) != len(self.close):
            raise ValueError(f"{len(self.dates)} dates but {len(self.close)} closes")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _empty(fig: Figure, text: str) -> None:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()


def price_chart(histories: Mapping[str, PriceHistory], title: str = "Top picks") -> bytes:
    """Small multiples: each symbol's close with its 20- and 50-day simple moving averages."""
    n = len(histories)
    cols = min(3, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows), layout="constrained")
    if n == 0:
        _empty(fig, "no picks today")
        return _png(fig)
    fig.suptitle(title)
    for k, (symbol, history) in enumerate(histories.items(), start=1):
        ax = fig.add_subplot(rows, cols, k)
        close = np.asarray(history.close, dtype=np.float64)
        dates = list(history.dates)
        ax.plot(dates, close, color="black", linewidth=1.0, label="close")
        if len(close):
            ax.plot(dates, sma(close[:, None], 20)[:, 0], linewidth=0.9, label="SMA 20")
            ax.plot(dates, sma(close[:, None], 50)[:, 0], linewidth=0.9, label="SMA 50")
        ax.set_title(symbol, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="x", labelrotation=30)
        if k == 1:
            ax.legend(fontsize=7)
    return _png(fig)


def score_histogram(scores: Sequence[float], actions: Sequence[str]) -> bytes:
    """Distribution of today's model scores, coloured by action."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    values = np.asarray(scores, dtype=np.float64)
    if not len(values):
        _empty(fig, "no scores today")
        return _png(fig)
    ax = fig.add_subplot()
    bins = np.linspace(np.nanmin(values), np.nanmax(values) + 1e-9, 40)
    labels = np.asarray(actions)
    groups = [("sell", BAD_COLOUR), ("hold", "#9e9e9e"), ("buy", OK_COLOUR)]
    data = [values[labels == action] for action, _ in groups]
    ax.hist(
        data,
        bins=bins,
        stacked=True,
        color=[colour for _, colour in groups],
        label=[f"{action} ({len(d):,})" for (action, _), d in zip(groups, data, strict=True)],
    )
    ax.set_xlabel("model score (probability of beating the median)")
    ax.set_ylabel("symbols")
    ax.legend(fontsize=8)
    return _png(fig)


def quality_chart(results: Sequence[QualityResult]) -> bytes:
    """Each aggregate check's value (a share) against its threshold; red when the check failed."""
    rows = [r for r in results if not r.scope.startswith("symbol:") and math.isfinite(r.threshold)]
    fig = Figure(figsize=(7, 0.45 * max(3, len(rows)) + 0.8), layout="constrained")
    if not rows:
        _empty(fig, "no data-quality checks")
        return _png(fig)
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.barh(y, [r.value for r in rows], color=[OK_COLOUR if r.ok else BAD_COLOUR for r in rows])
    ax.scatter([r.threshold for r in rows], y, marker="|", s=300, color="black", label="threshold")
    ax.set_yticks(y, [f"{r.check} ({r.scope})" for r in rows], fontsize=8)
    ax.set_xlabel("share (bar: today's value, mark: threshold; red = failed)")
    ax.set_xlim(0, max(1.0, *(r.value for r in rows if math.isfinite(r.value))))
    ax.invert_yaxis()
    return _png(fig)
