"""The forward-return model: train with walk-forward validation, predict, serialise.

Label: for each session t and symbol, 1 when the return from t's close to the close H sessions later
(``ModelParams.horizon``, default 5) beats that session's cross-sectional median, else 0. The model's score
is the predicted probability of beating the median: it ranks symbols within a session and is not an
expected return. Only symbol-sessions with every feature of ``FEATURE_NAMES`` are used (so at least
``MAX_LOOKBACK_BARS`` bars of history).

Training for ``as_of`` sees only sessions up to ``as_of``, and only labels that are complete by then
(t + H <= as_of). ``train`` validates walk-forward first (``analysis.validation``), then fits the final
model on every usable session; ``TrainedModel.metrics`` is the out-of-sample evidence for that model.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

from analysis.features import FEATURE_NAMES, above_median_labels, feature_arrays, forward_returns, stack
from analysis.indicators import MAX_LOOKBACK_BARS
from analysis.panel import Panel
from analysis.validation import ModelMetrics, fold_metrics, overall_metrics, walk_forward_folds

# Bump when features, labels or the training procedure change: it is part of every model version.
CODE_VERSION = "model-1"


class ModelError(ValueError):
    """Training or loading cannot proceed; the message says why (e.g. too little history)."""


class NotEnoughHistory(ModelError):
    """Training cannot start yet: ``reason`` (also the message) says what the history lacks, in one line.

    Not a fault: a new installation, or a universe whose backfill is still running, has no trainable
    history for a while. Callers skip the model's work for the day and record ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ModelParams:
    horizon: int = 5  # label horizon and embargo, in sessions
    n_folds: int = 4
    kind: str = "hgb"  # "hgb" (gradient-boosted trees) or "logistic" (on standardised features)
    max_depth: int = 3
    max_iter: int = 100
    learning_rate: float = 0.08
    min_samples_leaf: int = 200
    max_train_rows: int = 150_000  # per fit; a seeded random subsample above this keeps training fast
    session_step: int = 2  # sample every n-th session (labels of neighbours overlap H-1 of H sessions)
    min_cross_section: int = 20  # sessions with fewer complete symbols are not sampled
    top_fraction: float = 0.10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("hgb", "logistic"):
            raise ModelError(f"unknown model kind {self.kind!r}: use 'hgb' or 'logistic'")
        if self.horizon < 1 or self.n_folds < 1 or self.session_step < 1 or self.max_train_rows < 100:
            raise ModelError("horizon, n_folds and session_step must be >= 1 and max_train_rows >= 100")
        if not 0 < self.top_fraction <= 0.5:
            raise ModelError(f"top_fraction must be in (0, 0.5], got {self.top_fraction}")


@dataclass(frozen=True, eq=False)
class TrainedModel:
    version: str
    metrics: ModelMetrics
    features: tuple[str, ...]
    estimator: object
    params: ModelParams
    as_of: date
    train_start: date  # first and last sample session of the final fit
    train_end: date
    n_train: int  # symbol-sessions in the final fit
    code_version: str = CODE_VERSION


def _estimator(params: ModelParams) -> object:
    if params.kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))
    return HistGradientBoostingClassifier(
        max_depth=params.max_depth,
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=params.seed,
    )


@dataclass(frozen=True)
class _Dataset:
    """Usable symbol-sessions of the sample rows, flattened: X (n x features), label, forward return, row."""

    x: np.ndarray
    label: np.ndarray
    fwd: np.ndarray
    row: np.ndarray


def _dataset(features: dict[str, np.ndarray], close: np.ndarray, params: ModelParams) -> _Dataset:
    t, s = close.shape
    complete = np.ones(close.shape, dtype=bool)
    for name in FEATURE_NAMES:
        complete &= np.isfinite(features[name])
    fwd = forward_returns(close, params.horizon)
    usable = complete & np.isfinite(fwd)  # fwd is NaN for the last H sessions: labels not complete yet
    labels = above_median_labels(fwd, usable)
    rows = np.flatnonzero(usable.sum(axis=1) >= params.min_cross_section)
    rows = rows[:: params.session_step] if len(rows) else rows
    mask = usable[rows].ravel()
    return _Dataset(
        x=stack(features, FEATURE_NAMES, rows)[mask],
        label=labels[rows].ravel()[mask],
        fwd=fwd[rows].ravel()[mask],
        row=np.repeat(rows, s)[mask],
    )


def _fit(params: ModelParams, x: np.ndarray, y: np.ndarray) -> tuple[object, int]:
    if len(x) > params.max_train_rows:
        keep = np.random.default_rng(params.seed).choice(len(x), params.max_train_rows, replace=False)
        keep.sort()
        x, y = x[keep], y[keep]
    if len(np.unique(y)) < 2:
        raise ModelError("the training labels are all the same: too few symbols per session")
    estimator = _estimator(params)
    estimator.fit(x, y)
    return estimator, len(x)


def _score(estimator: object, x: np.ndarray) -> np.ndarray:
    return estimator.predict_proba(x)[:, 1]


def _version(panel: Panel, as_of: date, params: ModelParams, data: _Dataset) -> str:
    digest = hashlib.sha256()
    meta = {
        "code": CODE_VERSION,
        "params": asdict(params),
        "features": FEATURE_NAMES,
        "as_of": as_of.isoformat(),
        "first": panel.dates[int(data.row[0])].isoformat(),
        "last": panel.dates[int(data.row[-1])].isoformat(),
        "symbols": len(panel.symbols),
    }
    digest.update(json.dumps(meta, sort_keys=True).encode())
    digest.update("\n".join(panel.symbols).encode())
    for array in (panel.close, panel.high, panel.low, panel.volume):
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"{CODE_VERSION}-h{params.horizon}-{as_of:%Y%m%d}-{digest.hexdigest()[:12]}"


def sessions_needed(params: ModelParams | None = None) -> int:
    """Sessions of bars a symbol needs before its first usable training session: a full feature row
    (``MAX_LOOKBACK_BARS``), then ``horizon`` more for that row's label to be complete."""
    return MAX_LOOKBACK_BARS + (params or ModelParams()).horizon


def history_shortfall(panel: Panel, as_of: date, params: ModelParams | None = None) -> str:
    """Why ``panel`` up to ``as_of`` has no usable training session, in one line.

    A session is usable when at least ``min_cross_section`` symbols have every feature on it and a label
    complete by ``as_of``: each of them needs ``sessions_needed`` sessions of bars. The history that counts
    is the ``min_cross_section``-th longest among the symbols (bars up to ``as_of``).
    """
    params = params or ModelParams()
    known = panel.upto(as_of)
    need, k = sessions_needed(params), params.min_cross_section
    counts = np.sort(np.isfinite(known.close).sum(axis=0))[::-1]
    with_bars = int((counts > 0).sum())
    if with_bars < k:
        return (
            f"not enough symbols: {with_bars} with bars up to {as_of.isoformat()}, {k} needed "
            f"(each with {need} sessions of history)"
        )
    have = int(counts[k - 1])
    if have < need:
        return (
            f"not enough history: {have} sessions up to {as_of.isoformat()}, {need} needed "
            f"({MAX_LOOKBACK_BARS} for every feature + {params.horizon} for the first label, "
            f"in {k} symbols or more)"
        )
    return (
        f"not enough complete history: no session up to {as_of.isoformat()} has {k} symbols with every "
        f"feature and a complete {params.horizon}-session label (gaps or missing volumes)"
    )


def train(
    panel: Panel,
    as_of: date,
    params: ModelParams | None = None,
    features: dict[str, np.ndarray] | None = None,
    threads: int | None = 1,
) -> TrainedModel:
    """Validate walk-forward, then fit on every usable session up to ``as_of`` (see the module docstring).

    ``features`` (``feature_arrays`` of the same, full panel) is reused when given; sessions after
    ``as_of`` are cut off either way. ``threads`` caps the native (OpenMP/BLAS) threads: 1 by default, since
    Celery's worker processes are the parallelism and oversubscribed OpenMP threads slow down badly on
    shared cores; None lets the libraries use every core. It does not change the result. Raises
    ``NotEnoughHistory`` (a ``ModelError``; ``history_shortfall`` gives its reason) when the history is too
    short to train.
    """
    with threadpool_limits(limits=threads):
        return _train(panel, as_of, params or ModelParams(), features)


def _train(
    panel: Panel, as_of: date, params: ModelParams, features: dict[str, np.ndarray] | None
) -> TrainedModel:
    known = panel.upto(as_of)
    n = known.shape[0]
    if features is None:
        feats = feature_arrays(known)
    else:
        if any(
            features[name].shape[1] != known.shape[1] or features[name].shape[0] < n for name in FEATURE_NAMES
        ):
            raise ModelError("the features given do not match the panel's shape")
        feats = {name: features[name][:n] for name in FEATURE_NAMES}
    data = _dataset(feats, known.close, params)
    if len(data.row) == 0:
        raise NotEnoughHistory(history_shortfall(known, as_of, params))

    folds = walk_forward_folds(np.unique(data.row), params.n_folds, embargo=params.horizon)
    per_fold, oos = [], []
    for k, fold in enumerate(folds, start=1):
        train_mask = np.isin(data.row, fold.train_rows)
        test_mask = np.isin(data.row, fold.test_rows)
        if len(np.unique(data.label[train_mask])) < 2:
            continue
        estimator, n_fit = _fit(params, data.x[train_mask], data.label[train_mask])
        scores = _score(estimator, data.x[test_mask])
        parts = (scores, data.label[test_mask], data.fwd[test_mask], data.row[test_mask])
        per_fold.append(fold_metrics(k, known.dates, fold, n_fit, *parts, params.top_fraction))
        oos.append(parts)
    pooled = [np.concatenate(p) for p in zip(*oos, strict=True)] if oos else [np.empty(0)] * 4
    metrics = overall_metrics(params.horizon, per_fold, *pooled, params.top_fraction)

    estimator, n_fit = _fit(params, data.x, data.label)
    return TrainedModel(
        version=_version(known, as_of, params, data),
        metrics=metrics,
        features=FEATURE_NAMES,
        estimator=estimator,
        params=params,
        as_of=as_of,
        train_start=known.dates[int(data.row[0])],
        train_end=known.dates[int(data.row[-1])],
        n_train=n_fit,
    )


def predict(
    model: TrainedModel, features_last_day: Mapping[str, np.ndarray] | np.ndarray, threads: int | None = 1
) -> np.ndarray:
    """Scores (probability of beating the session's median over the horizon) for one session's symbols.

    ``features_last_day`` is ``{feature name: 1-D array over symbols}`` (``features_on``) or a 2-D array
    (symbols x ``model.features``). Returns a 1-D float array; NaN for a symbol missing any feature.
    ``threads`` as in ``train``.
    """
    if isinstance(features_last_day, Mapping):
        missing = [name for name in model.features if name not in features_last_day]
        if missing:
            raise ModelError(f"missing feature(s): {', '.join(missing)}")
        x = np.column_stack(
            [np.asarray(features_last_day[name], dtype=np.float64) for name in model.features]
        )
    else:
        x = np.asarray(features_last_day, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(model.features):
            raise ModelError(f"expected a (symbols x {len(model.features)}) array, got shape {x.shape}")
    scores = np.full(x.shape[0], np.nan)
    ok = np.isfinite(x).all(axis=1)
    if ok.any():
        with threadpool_limits(limits=threads):
            scores[ok] = _score(model.estimator, x[ok])
    return scores


def dumps(model: TrainedModel) -> bytes:
    """The model as pickle bytes (for storage; only ``loads`` bytes this system wrote: pickle runs code)."""
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> TrainedModel:
    """A model from ``dumps`` bytes; ``ModelError`` if it is not one or was built by other model code."""
    try:
        model = pickle.loads(data)  # our own artefact: see dumps
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
        raise ModelError(f"not a serialised model: {type(exc).__name__}") from None
    if not isinstance(model, TrainedModel):
        raise ModelError(f"not a serialised model: got {type(model).__name__}")
    if model.code_version != CODE_VERSION:
        raise ModelError(
            f"model {model.version} was built by {model.code_version}, this is {CODE_VERSION}: retrain"
        )
    return model
