"""Recommendations: ranking, quantile actions, reasons from real values, recorded skips."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analysis.features import FEATURE_NAMES
from analysis.model import ModelParams, train
from analysis.panel import Panel
from analysis.recommend import RecommendConfig, daily_recommendations, reasons_for, recommend

DAY = date(2026, 11, 25)
NEUTRAL = {
    "dist_sma_20": 0.01,
    "dist_sma_50": 0.02,
    "dist_sma_200": 0.05,
    "rsi_14": 50.0,
    "macd_rel": 0.001,
    "macd_hist_rel": 0.0,
    "bb_pctb": 0.5,
    "atr_rel": 0.02,
    "volume_z": 0.3,
    "dist_high_52w": -0.10,
    "dist_low_52w": 0.30,
    "ret_5": 0.01,
    "ret_20": -0.042,
    "ret_60": 0.05,
}
assert set(NEUTRAL) == set(FEATURE_NAMES)


def run(scores, config=None, history=None, last_bar=None, features=None):
    n = len(scores)
    symbols = [f"S{j:02d}" for j in range(n)]
    feats = features or {k: np.full(n, v) for k, v in NEUTRAL.items()}
    history = np.full(n, 300) if history is None else np.asarray(history)
    last = {s: DAY for s in symbols} if last_bar is None else last_bar
    return recommend(DAY, symbols, np.asarray(scores, dtype=float), feats, history, last, config)


@pytest.mark.parametrize(
    ("scores", "order"),
    [
        ([0.2, 0.9, 0.5], ["S01", "S02", "S00"]),
        ([0.5, 0.5, 0.7], ["S02", "S00", "S01"]),  # ties broken by symbol
        ([0.1], ["S00"]),
    ],
)
def test_ranked_by_score(scores, order):
    recs, skipped = run(scores)
    assert [r.symbol for r in recs] == order
    assert [r.rank for r in recs] == list(range(1, len(order) + 1))
    assert [r.score for r in recs] == sorted(scores, reverse=True)
    assert skipped == []


@pytest.mark.parametrize(
    ("n", "config", "buys", "sells"),
    [
        (20, RecommendConfig(), 2, 2),
        (25, RecommendConfig(), 2, 2),  # floored
        (5, RecommendConfig(), 0, 0),
        (10, RecommendConfig(buy_fraction=0.3, sell_fraction=0.2), 3, 2),
        (10, RecommendConfig(buy_fraction=0.5, sell_fraction=0.5), 5, 5),
        (10, RecommendConfig(buy_fraction=0.0, sell_fraction=0.0), 0, 0),
    ],
)
def test_actions_by_quantile(n, config, buys, sells):
    recs, _ = run(np.linspace(0.9, 0.1, n), config)
    actions = [r.action for r in recs]
    assert actions == ["buy"] * buys + ["hold"] * (n - buys - sells) + ["sell"] * sells


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rsi_14": 27.46}, "RSI 14 = 27.5 (oversold)"),
        ({"rsi_14": 71.0}, "RSI 14 = 71.0 (overbought)"),
        ({"rsi_14": 50.0}, "RSI 14 = 50.0 (neutral)"),
        ({"dist_sma_200": 0.081}, "close 8.1 % above SMA 200"),
        ({"dist_sma_200": -0.125}, "close 12.5 % below SMA 200"),
        ({"volume_z": 3.14}, "volume 3.1 σ above its 20-day average"),
        ({"volume_z": -2.5}, "volume 2.5 σ below its 20-day average"),
        ({"dist_high_52w": -0.015}, "within 1.5 % of its 52-week high"),
        ({"dist_low_52w": 0.012}, "within 1.2 % of its 52-week low"),
        ({}, "20-day return -4.2 %"),
    ],
)
def test_reasons_quote_the_actual_values(changes, expected):
    reasons = reasons_for(NEUTRAL | changes, 0.61, 3, 120)
    assert expected in reasons
    assert 2 <= len(reasons) <= 4


@pytest.mark.parametrize(
    ("rank", "n", "text"),
    [
        (1, 100, "rank 1 of 100 (top 1 %)"),
        (3, 100, "(top 3 %)"),
        (100, 100, "(bottom 1 %)"),
        (7, 6412, "(top 1 %)"),
    ],
)
def test_score_reason_places_the_rank(rank, n, text):
    assert text in reasons_for(NEUTRAL, 0.5, rank, n)[0]


def test_skipped_symbols_say_why():
    n = 5
    feats = {k: np.full(n, v) for k, v in NEUTRAL.items()}
    feats["volume_z"][2] = np.nan
    last = {"S00": DAY, "S01": date(2026, 11, 20), "S02": DAY, "S03": DAY}  # S04 never traded
    recs, skipped = run(
        [0.5, 0.5, 0.5, np.nan, 0.5], history=[300, 300, 300, 300, 40], last_bar=last, features=feats
    )
    assert [r.symbol for r in recs] == ["S00"]
    assert {s.symbol: s.reason for s in skipped} == {
        "S01": "no bar for 2026-11-25 (last bar 2026-11-20)",
        "S02": "no value for volume_z",
        "S03": "no model score",
        "S04": "no bar for 2026-11-25 (no bars at all)",
    }


def test_short_history_is_skipped_with_the_count():
    _, skipped = run([0.5, 0.6], history=[40, 300])
    assert [(s.symbol, s.reason) for s in skipped] == [("S00", "only 40 days of history (needs 252)")]


@pytest.mark.parametrize(
    "kwargs", [{"buy_fraction": 1.5}, {"sell_fraction": -0.1}, {"buy_fraction": 0.6, "sell_fraction": 0.6}]
)
def test_bad_config_is_a_clear_error(kwargs):
    with pytest.raises(ValueError, match="fraction"):
        RecommendConfig(**kwargs)


def test_misaligned_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match="history has 1 entries for 2 symbols"):
        run([0.1, 0.2], history=[300])


def test_daily_recommendations_from_a_panel():
    rng = np.random.default_rng(5)
    days, n = 300, 40
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, (days, n)), axis=0))
    close[:200, 0] = np.nan  # listed late: 100 bars
    close[-1, 1] = np.nan  # no bar on the day
    volume = rng.lognormal(10, 0.5, (days, n))
    dates = [date(2025, 1, 1) + timedelta(days=i) for i in range(days)]
    panel = Panel(dates, [f"T{j:02d}" for j in range(n)], close, close * 1.01, close * 0.99, volume)
    model = train(panel, dates[-1], ModelParams(n_folds=1, max_iter=5, min_samples_leaf=20))
    recs, skipped = daily_recommendations(panel, dates[-1], model)
    assert {s.symbol: s.reason for s in skipped} == {
        "T00": "only 100 days of history (needs 252)",
        "T01": f"no bar for {dates[-1].isoformat()} (last bar {dates[-2].isoformat()})",
    }
    assert len(recs) == n - 2
    assert [r.action for r in recs].count("buy") == 3 and [r.action for r in recs].count("sell") == 3
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)


def _panel(days=300, n=6, seed=9):
    rng = np.random.default_rng(seed)
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, (days, n)), axis=0))
    volume = rng.lognormal(10, 0.5, (days, n))
    dates = [date(2025, 1, 1) + timedelta(days=i) for i in range(days)]
    return Panel(dates, [f"T{j:02d}" for j in range(n)], close, close * 1.01, close * 0.99, volume)


def test_a_provisional_close_is_scored_with_the_previous_sessions_volume_z():
    from analysis.features import day_features, feature_arrays

    panel = _panel()
    panel.volume[-1, 2] = np.nan  # symbol 2's close on the day came from a quote: no volume yet
    features = feature_arrays(panel)
    today = day_features(panel)
    assert np.isnan(features["volume_z"][-1, 2])  # without the rule it could not be scored
    assert today["volume_z"][2] == features["volume_z"][-2, 2]
    others = [j for j in range(6) if j != 2]
    assert np.array_equal(today["volume_z"][others], features["volume_z"][-1, others])
    assert today["rsi_14"][2] == features["rsi_14"][-1, 2]  # every other feature uses the close itself


def test_without_a_model_every_symbol_is_skipped_with_no_model_score():
    panel = _panel()
    recs, skipped = daily_recommendations(panel, panel.dates[-1], None)
    assert recs == [] and {s.reason for s in skipped} == {"no model score"} and len(skipped) == 6
