"""The model: leak-free walk-forward folds, honest metrics (signal found, noise not), predict, serialise."""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from analysis.features import FEATURE_NAMES, above_median_labels, feature_arrays, features_on, forward_returns
from analysis.model import (
    CODE_VERSION,
    ModelError,
    ModelParams,
    NotEnoughHistory,
    dumps,
    history_shortfall,
    loads,
    predict,
    sessions_needed,
    train,
)
from analysis.panel import Panel
from analysis.validation import walk_forward_folds


def market(days: int, symbols: int, signal: float, seed: int) -> Panel:
    """Random-walk prices; with ``signal`` > 0, a volume shock on day t lifts each of the next 5 days' returns."""
    rng = np.random.default_rng(seed)
    shock = rng.normal(size=(days, symbols))
    volume = np.exp(12 + 0.5 * shock)
    drift = np.zeros((days, symbols))
    for lag in range(1, 6):
        drift[lag:] += signal * shock[:-lag]
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.02, (days, symbols)) + drift, axis=0))
    spread = np.abs(rng.normal(0, 0.01, (days, symbols)))
    dates = [date(2025, 1, 1) + timedelta(days=i) for i in range(days)]
    return Panel(
        dates,
        [f"S{j:03d}" for j in range(symbols)],
        close,
        close * (1 + spread),
        close * (1 - spread),
        volume,
    )


@pytest.fixture(scope="module")
def signal_panel():
    return market(420, 300, signal=0.003, seed=1)


@pytest.fixture(scope="module")
def signal_model(signal_panel):
    return train(signal_panel, signal_panel.dates[-1])


@pytest.fixture(scope="module")
def noise_model():
    panel = market(420, 300, signal=0.0, seed=2)
    return train(panel, panel.dates[-1])


@pytest.mark.parametrize(
    ("rows", "n_folds", "embargo"),
    [
        (range(100), 4, 5),
        (range(0, 300, 3), 5, 5),
        (range(250, 500), 4, 10),
        (range(20), 3, 0),
        (range(12), 3, 5),  # short: early folds have no training rows and are dropped
    ],
)
def test_walk_forward_folds_never_leak(rows, n_folds, embargo):
    folds = walk_forward_folds(list(rows), n_folds, embargo)
    assert folds
    for fold in folds:
        assert fold.test_rows.min() > fold.train_rows.max() + embargo
    tests = np.concatenate([f.test_rows for f in folds])
    assert (np.diff(tests) > 0).all()  # time-ordered and disjoint
    for earlier, later in zip(folds, folds[1:], strict=False):
        assert set(earlier.train_rows) < set(later.train_rows)  # expanding window
    assert set(tests) <= set(rows)


def test_too_few_rows_give_no_folds():
    assert walk_forward_folds(range(3), 4, 5) == []


@pytest.mark.parametrize(
    ("fwd", "usable", "labels"),
    [
        ([[0.1, 0.2, 0.3]], [[1, 1, 1]], [[0, 0, 1]]),  # median 0.2 is not above itself
        ([[0.1, 0.2, 0.3, 0.4]], [[1, 1, 1, 1]], [[0, 0, 1, 1]]),
        ([[0.1, 0.2, 0.3, 9.0]], [[1, 1, 1, 0]], [[0, 0, 1, np.nan]]),  # unusable cells do not count
    ],
)
def test_labels_beat_the_sessions_median(fwd, usable, labels):
    got = above_median_labels(np.array(fwd), np.array(usable, dtype=bool))
    np.testing.assert_array_equal(got, np.array(labels, dtype=float))


def test_forward_returns_count_sessions():
    close = np.array([[1.0], [2.0], [np.nan], [4.0]])
    np.testing.assert_array_equal(forward_returns(close, 1)[:, 0], [1.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(forward_returns(close, 3)[:, 0], [3.0, np.nan, np.nan, np.nan])


def test_a_planted_signal_is_found_out_of_sample(signal_model):
    m = signal_model.metrics
    assert len(m.folds) == 4
    assert m.auc > 0.56
    assert all(f.auc > 0.54 for f in m.folds)
    assert m.rank_ic > 0.1 and m.rank_ic_tstat > 3
    assert m.top_hit_rate > 0.58
    assert not m.no_better_than_chance
    assert "no better than chance" not in m.summary()


def test_pure_noise_stays_near_chance(noise_model):
    m = noise_model.metrics
    assert abs(m.auc - 0.5) < 0.03
    assert abs(m.rank_ic) < 0.04
    assert abs(m.top_hit_rate - 0.5) < 0.05
    assert m.no_better_than_chance
    assert "no better than chance" in m.summary()


def test_fold_dates_keep_the_embargo(signal_panel, signal_model):
    sessions = signal_panel.dates
    h = signal_model.params.horizon
    for fold in signal_model.metrics.folds:
        assert sessions.index(fold.test_start) > sessions.index(fold.train_end) + h
    assert sessions.index(signal_model.train_end) + h <= sessions.index(signal_model.as_of)


def test_data_after_as_of_is_never_seen(signal_panel):
    as_of = signal_panel.dates[380]
    params = ModelParams(n_folds=2, max_iter=20)
    scrambled = signal_panel.close.copy()
    scrambled[381:] = scrambled[381:][::-1] * 3
    future = Panel(
        signal_panel.dates,
        signal_panel.symbols,
        scrambled,
        signal_panel.high,
        signal_panel.low,
        signal_panel.volume,
    )
    a, b = train(signal_panel, as_of, params), train(future, as_of, params)
    assert a.version == b.version
    assert a.metrics == b.metrics
    assert a.train_end < as_of


def test_predict_ranks_the_planted_signal(signal_panel, signal_model):
    last = features_on(feature_arrays(signal_panel))
    scores = predict(signal_model, last)
    assert scores.shape == (300,)
    assert ((scores >= 0) & (scores <= 1)).all()
    # the planted driver is today's volume shock: the score must rise with it
    assert np.corrcoef(np.argsort(np.argsort(scores)), np.argsort(np.argsort(last["volume_z"])))[0, 1] > 0.5


def test_predict_gives_nan_for_incomplete_rows_and_rejects_missing_features(signal_model):
    x = np.zeros((3, len(FEATURE_NAMES)))
    x[1, 4] = np.nan
    scores = predict(signal_model, x)
    assert np.isfinite(scores[[0, 2]]).all() and np.isnan(scores[1])
    with pytest.raises(ModelError, match="volume_z"):
        predict(signal_model, {k: np.zeros(2) for k in FEATURE_NAMES if k != "volume_z"})
    with pytest.raises(ModelError, match="shape"):
        predict(signal_model, np.zeros((2, 3)))


def test_serialisation_round_trip(signal_model):
    x = np.random.default_rng(0).normal(size=(50, len(FEATURE_NAMES)))
    copy = loads(dumps(signal_model))
    assert copy.version == signal_model.version and copy.metrics == signal_model.metrics
    np.testing.assert_array_equal(predict(copy, x), predict(signal_model, x))


@pytest.mark.parametrize(
    "blob",
    [b"not a pickle", pickle.dumps({"a": 1}), b""],
)
def test_loads_rejects_what_is_not_a_model(blob):
    with pytest.raises(ModelError, match="not a serialised model"):
        loads(blob)


def test_loads_rejects_another_code_version(signal_model):
    with pytest.raises(ModelError, match="retrain"):
        loads(dumps(replace(signal_model, code_version=CODE_VERSION + "-old")))


@pytest.mark.parametrize(
    ("auc", "tstat", "verdict"),
    [
        (0.5, 0.5, "chance"),
        (0.515, 1.9, "chance"),
        (0.515, 8.0, "weak"),
        (0.47, -3.0, "worse"),
        (0.53, 1.0, "not significant"),
        (0.53, 2.5, "edge"),
        (float("nan"), 2.5, "unvalidated"),
    ],
)
def test_verdict_table(noise_model, auc, tstat, verdict):
    m = replace(noise_model.metrics, auc=auc, rank_ic_tstat=tstat)
    assert m.verdict == verdict
    assert m.no_better_than_chance == (verdict in ("chance", "worse", "unvalidated"))


def test_version_follows_data_and_params(signal_panel):
    small = ModelParams(n_folds=1, max_iter=5)
    as_of = signal_panel.dates[-1]
    base = train(signal_panel, as_of, small).version
    assert train(signal_panel, as_of, small).version == base
    assert train(signal_panel, as_of, replace(small, max_iter=6)).version != base
    assert train(signal_panel, signal_panel.dates[-2], small).version != base
    assert base.startswith(f"{CODE_VERSION}-h5-")


def test_logistic_variant_finds_the_signal_too(signal_panel):
    model = train(signal_panel, signal_panel.dates[-1], ModelParams(kind="logistic"))
    assert model.metrics.auc > 0.55


@pytest.mark.parametrize(
    ("days", "symbols", "reason"),
    [
        (12, 30, r"^not enough history: 12 sessions up to 2025-01-12, 257 needed \(252 for every feature "
                 r"\+ 5 for the first label, in 20 symbols or more\)$"),
        (256, 30, r"^not enough history: 256 sessions up to 2025-09-13, 257 needed "),
        (300, 19, r"^not enough symbols: 19 with bars up to 2025-10-27, 20 needed "),
    ],
)  # fmt: skip
def test_too_little_history_says_why_in_one_line(days, symbols, reason):
    panel = market(days, symbols, 0.0, 3)
    with pytest.raises(NotEnoughHistory) as caught:
        train(panel, panel.dates[-1])
    assert isinstance(caught.value, ModelError)
    assert re.search(reason, caught.value.reason) and "\n" not in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert history_shortfall(panel, panel.dates[-1]) == caught.value.reason


def test_the_minimum_history_is_the_longest_lookback_plus_the_horizon():
    assert sessions_needed() == 257 and sessions_needed(ModelParams(horizon=10)) == 262
    panel = market(257, 30, 0.0, 3)
    assert train(panel, panel.dates[-1], ModelParams(max_iter=5)).n_train == 30  # one usable session
    with pytest.raises(NotEnoughHistory, match="256 sessions"):
        train(panel, panel.dates[-2], ModelParams(max_iter=5))


def test_long_history_with_gaps_is_told_apart_from_short_history():
    full = market(300, 30, 0.0, 3)
    no_volume = Panel(full.dates, full.symbols, full.close, full.high, full.low, np.full(full.shape, np.nan))
    with pytest.raises(
        NotEnoughHistory, match="^not enough complete history: no session up to 2025-10-27 has 20"
    ):
        train(no_volume, no_volume.dates[-1])


@pytest.mark.parametrize(
    "kwargs", [{"kind": "forest"}, {"horizon": 0}, {"top_fraction": 0.9}, {"max_train_rows": 5}]
)
def test_bad_params_are_clear_errors(kwargs):
    with pytest.raises(ModelError):
        ModelParams(**kwargs)


def test_thread_cap_does_not_change_the_model(signal_panel):
    small = ModelParams(n_folds=1, max_iter=5)
    as_of = signal_panel.dates[-1]
    capped, free = train(signal_panel, as_of, small), train(signal_panel, as_of, small, threads=None)
    assert capped.version == free.version
    assert capped.metrics.auc == pytest.approx(free.metrics.auc, abs=1e-6)
