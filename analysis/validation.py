"""Walk-forward validation: time-ordered expanding folds with an embargo, and out-of-sample metrics.

Metrics (all computed on test sessions the fold's model never saw):

* ``auc``: ROC AUC of the score against the label (forward return above the session's median); 0.5 is chance.
* ``rank_ic``: per test session, the Spearman correlation between score and realised forward return,
  averaged over sessions; 0 is chance.
* ``top_hit_rate``: among each session's top ``top_fraction`` of scores, the share whose forward return
  beat the median; 0.5 is chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

# |AUC - 0.5| below this is reported as "no better than chance".
CHANCE_AUC_BAND = 0.02


@dataclass(frozen=True)
class Fold:
    """Session row indices (into the panel) to train on and to test on."""

    train_rows: np.ndarray
    test_rows: np.ndarray


def walk_forward_folds(sample_rows: Sequence[int], n_folds: int, embargo: int) -> list[Fold]:
    """Expanding-window folds over the sorted ``sample_rows``.

    The rows are cut into ``n_folds + 1`` contiguous blocks; fold k tests on block k and trains on every
    earlier row r with ``r + embargo < first test row``. With ``embargo`` = the label horizon H, no training
    label (which looks H sessions ahead) overlaps a test session. Folds without training rows are dropped.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0 sessions, got {embargo}")
    rows = np.unique(np.asarray(sample_rows, dtype=np.int64))
    if len(rows) < n_folds + 1:
        return []
    blocks = np.array_split(rows, n_folds + 1)
    folds = []
    for test in blocks[1:]:
        train = rows[rows + embargo < test[0]]
        if len(train):
            folds.append(Fold(train, test))
    return folds


@dataclass(frozen=True)
class FoldMetrics:
    fold: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date
    n_train: int  # rows (symbol-sessions) the model was fitted on
    n_test: int
    auc: float
    rank_ic: float
    top_hit_rate: float


@dataclass(frozen=True)
class ModelMetrics:
    """Out-of-sample performance over every fold's test sessions; see the module docstring."""

    horizon: int  # sessions
    folds: tuple[FoldMetrics, ...]
    auc: float
    rank_ic: float
    rank_ic_std: float
    rank_ic_tstat: float  # over test sessions >= horizon apart, so overlapping labels do not inflate it
    top_hit_rate: float
    top_fraction: float
    n_test_sessions: int
    n_test_rows: int

    @property
    def verdict(self) -> str:
        """One of ``VERDICTS``, from the AUC's distance to 0.5 and the rank IC's t-statistic.

        "chance": AUC within ``CHANCE_AUC_BAND`` of 0.5 and no significant IC (|t| < 2);
        "weak": AUC within the band but a significant positive IC (a small average edge, near chance per pick);
        "worse": AUC below 0.5 by more than the band (the ranking points the wrong way);
        "not significant": AUC outside the band but |t| < 2; "edge": AUC above the band and t >= 2;
        "unvalidated": no out-of-sample data.
        """
        if not self.folds or not math.isfinite(self.auc):
            return "unvalidated"
        significant = math.isfinite(self.rank_ic_tstat) and self.rank_ic_tstat >= 2
        if abs(self.auc - 0.5) < CHANCE_AUC_BAND:
            return "weak" if significant else "chance"
        if self.auc < 0.5:
            return "worse"
        return "edge" if significant else "not significant"

    @property
    def no_better_than_chance(self) -> bool:
        return self.verdict in ("chance", "worse", "unvalidated")

    def summary(self) -> str:
        """The metrics in plain sentences, ending with the verdict."""
        if not self.folds:
            return "Not validated: too little history for a single walk-forward fold."
        text = (
            f"Out of sample ({len(self.folds)} walk-forward folds, {self.n_test_sessions} test sessions, "
            f"{self.horizon}-session horizon): AUC {self.auc:.3f} (0.5 = chance), mean daily rank IC "
            f"{self.rank_ic:+.3f} (t = {self.rank_ic_tstat:.1f}), top {self.top_fraction * 100:.0f} % "
            f"beat the median {self.top_hit_rate * 100:.1f} % of the time (50 % = chance). "
        )
        return text + VERDICTS[self.verdict]


VERDICTS = {
    "chance": "The model is no better than chance: treat its ranking as noise.",
    "weak": "The model is barely better than chance: a small average edge over many symbols, "
    "close to a coin flip for any single pick.",
    "worse": "The model is worse than chance (its ranking pointed the wrong way out of sample): do not use it.",
    "not significant": "The edge is not statistically significant.",
    "edge": "The edge is statistically significant; past out-of-sample results do not guarantee future ones.",
    "unvalidated": "Not validated.",
}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def daily_rank_ic(scores: np.ndarray, fwd: np.ndarray, sessions: np.ndarray) -> pd.Series:
    """Spearman correlation (average ranks for ties) of score vs forward return, per session.

    NaN for a session with fewer than 3 rows or without variation in either ranking.
    """
    frame = pd.DataFrame({"s": scores, "r": fwd, "d": sessions})
    ranked = frame.groupby("d")[["s", "r"]].rank()
    ranked["sr"], ranked["ss"], ranked["rr"] = ranked.s * ranked.r, ranked.s**2, ranked.r**2
    ranked["d"] = frame["d"]
    m = ranked.groupby("d").mean()
    n = ranked.groupby("d").size()
    cov = m.sr - m.s * m.r
    var_s, var_r = m.ss - m.s**2, m.rr - m.r**2
    ok = (n >= 3) & (var_s > 1e-12 * n**2) & (var_r > 1e-12 * n**2)
    ic = cov / np.sqrt(var_s * var_r)
    return ic.where(ok)


def top_hits(
    scores: np.ndarray, labels: np.ndarray, sessions: np.ndarray, fraction: float
) -> tuple[int, int]:
    """(hits, picks): per session the top ``max(1, floor(n * fraction))`` scores, and how many had label 1."""
    hits = picks = 0
    order = np.lexsort((-scores, sessions))
    s_sorted, l_sorted = sessions[order], labels[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for a, b in zip(starts, ends, strict=True):
        k = max(1, int((b - a) * fraction))
        picks += k
        hits += int(l_sorted[a : a + k].sum())
    return hits, picks


def fold_metrics(
    fold: int,
    dates: Sequence[date],
    fold_rows: Fold,
    n_train: int,
    scores: np.ndarray,
    labels: np.ndarray,
    fwd: np.ndarray,
    sessions: np.ndarray,
    top_fraction: float,
) -> FoldMetrics:
    """Metrics of one fold from its test rows (``sessions`` holds each test row's panel row index)."""
    hits, picks = top_hits(scores, labels, sessions, top_fraction)
    ic = daily_rank_ic(scores, fwd, sessions)
    return FoldMetrics(
        fold=fold,
        train_start=dates[int(fold_rows.train_rows[0])],
        train_end=dates[int(fold_rows.train_rows[-1])],
        test_start=dates[int(fold_rows.test_rows[0])],
        test_end=dates[int(fold_rows.test_rows[-1])],
        n_train=n_train,
        n_test=len(scores),
        auc=_auc(labels, scores),
        rank_ic=float(ic.mean()) if ic.notna().any() else float("nan"),
        top_hit_rate=hits / picks if picks else float("nan"),
    )


def _spaced(rows: np.ndarray, gap: int) -> list[int]:
    """Greedy subset of sorted session rows at least ``gap`` apart: their forward returns do not overlap."""
    chosen: list[int] = []
    for row in rows:
        if not chosen or row >= chosen[-1] + gap:
            chosen.append(int(row))
    return chosen


def overall_metrics(
    horizon: int,
    folds: Sequence[FoldMetrics],
    scores: np.ndarray,
    labels: np.ndarray,
    fwd: np.ndarray,
    sessions: np.ndarray,
    top_fraction: float,
) -> ModelMetrics:
    """Pooled metrics over every fold's test rows (the folds' test sessions are disjoint)."""
    nan = float("nan")
    if len(scores) == 0:
        return ModelMetrics(horizon, tuple(folds), nan, nan, nan, nan, nan, top_fraction, 0, 0)
    ic = daily_rank_ic(scores, fwd, sessions).dropna()
    independent = ic.loc[_spaced(ic.index.to_numpy(), horizon)]
    if len(independent) > 1 and independent.std(ddof=1) > 0:
        tstat = float(independent.mean() / independent.std(ddof=1) * math.sqrt(len(independent)))
    else:
        tstat = nan
    hits, picks = top_hits(scores, labels, sessions, top_fraction)
    return ModelMetrics(
        horizon=horizon,
        folds=tuple(folds),
        auc=_auc(labels, scores),
        rank_ic=float(ic.mean()) if len(ic) else nan,
        rank_ic_std=float(ic.std(ddof=1)) if len(ic) > 1 else nan,
        rank_ic_tstat=tstat,
        top_hit_rate=hits / picks if picks else nan,
        top_fraction=top_fraction,
        n_test_sessions=int(len(np.unique(sessions))),
        n_test_rows=len(scores),
    )
