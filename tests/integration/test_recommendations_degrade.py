"""Too little history degrades the day, never crashes it: training, predictions and recommendations each
return the reason; the database keeps it (a day-level record, and every symbol's own reason); the report
and the demo's summary show it. Once the history is long enough, the same day is recommended normally.

The jobs run in this process against a real database and Redis, with a fixed clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

import marketcal
from jobs import recommendations as jobs
from jobs.storing import store_bars
from storage import recommendations_for, recommendations_skipped, upsert_symbols
from storage.models import DataQuality, ModelVersion

DAY = date(2026, 11, 25)
SYMBOLS = [f"S{j:02d}" for j in range(25)]
SHORT = 30  # sessions of history: far below the 257 the model needs
LONG = 262
NOW = datetime(2026, 11, 26, 6, tzinfo=UTC)  # the clock the jobs are given


@pytest.fixture(autouse=True)
def universe(ctx):
    with ctx.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "name": t, "source": "test"} for t in SYMBOLS])


def _history(ctx, sessions: int) -> None:
    """``sessions`` sessions of random-walk bars up to ``DAY`` for every symbol."""
    days = marketcal.trading_days(DAY - timedelta(days=500), DAY)[-sessions:]
    rng = np.random.default_rng(7)
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(days), len(SYMBOLS))), axis=0))
    volume = np.exp(12 + 0.5 * rng.normal(size=close.shape))
    at = datetime(2026, 11, 26, tzinfo=UTC)
    store_bars(ctx, [{"symbol": sym, "day": d, "open": c, "high": c * 1.01, "low": c * 0.99, "close": c, "volume": v,
                 "vwap": None, "adjusted": True, "source": "test", "fetched_at": at}
                for i, d in enumerate(days) for sym, c, v in zip(SYMBOLS, close[i], volume[i], strict=True)])  # fmt: skip


def test_a_day_with_too_little_history_is_skipped_with_its_reason(ctx, caplog, tmp_path):
    from stack.report import day_summary

    _history(ctx, SHORT)
    expected = (
        f"not enough history: {SHORT} sessions up to {DAY}, 257 needed "
        "(252 for every feature + 5 for the first label, in 20 symbols or more)"
    )
    with caplog.at_level(logging.WARNING, logger="tickerbeat.recommendations"):
        trained = jobs.retrain(ctx, DAY.isoformat(), NOW)
        predicted = jobs.predict(ctx, DAY.isoformat(), NOW)
        recommended = jobs.recommend(ctx, DAY.isoformat(), NOW)

    assert trained == {"day": DAY.isoformat(), "trained": False, "version": None, "reason": expected}
    assert predicted == {"day": DAY.isoformat(), "scored": 0, "skipped_reason": expected}
    assert recommended["recommendations"] == 0 and recommended["skipped"] == len(SYMBOLS)
    assert recommended["skipped_reason"] == expected
    # one line each, with the reason
    assert f"model not trained for {DAY}: {expected}" in caplog.messages
    assert f"recommendations skipped for {DAY}: {expected}" in caplog.messages
    assert all("\n" not in m for m in caplog.messages)

    with ctx.db.session() as s:
        assert recommendations_skipped(s, DAY) == expected
        assert recommendations_for(s, DAY) == []
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 0
        reasons = dict(s.execute(select(DataQuality.scope, DataQuality.detail).where(
            DataQuality.day == DAY, DataQuality.check == "not_recommended")).all())  # fmt: skip
    # every symbol keeps its own reason too: here its short history
    assert sorted(reasons) == SYMBOLS
    assert {r["reason"] for r in reasons.values()} == {f"only {SHORT} days of history (needs 252)"}
    assert ctx.redis.hget("tickerbeat:bootstrap", "model_reason").decode() == expected

    html = (tmp_path / "reports" / f"{DAY}.html").read_text()
    banner = html.index("Recommendations skipped:")
    assert html.index(expected) > banner  # the reason, right after the banner
    assert banner < html.index("<h2>Data quality</h2>")  # at the top
    assert "Top 0 buys" not in html and "symbols ranked" not in html

    summary = day_summary(ctx.settings, ctx.db, DAY, None, {}, 1.0)
    assert summary["recommendations"] == 0 and summary["recommendations_skipped"] == expected


def test_once_the_history_is_long_enough_the_day_is_recommended_and_the_skip_forgotten(ctx, tmp_path):
    from stack.report import day_summary

    _history(ctx, SHORT)
    assert jobs.recommend(ctx, DAY.isoformat(), NOW)["skipped_reason"]
    _history(ctx, LONG)
    assert jobs.retrain(ctx, DAY.isoformat(), NOW)["trained"] is True
    done = jobs.recommend(ctx, DAY.isoformat(), NOW)
    assert done["recommendations"] == len(SYMBOLS) and "skipped_reason" not in done
    with ctx.db.session() as s:
        assert recommendations_skipped(s, DAY) is None
    assert ctx.redis.hget("tickerbeat:bootstrap", "model_reason") is None
    assert "Recommendations skipped" not in (tmp_path / "reports" / f"{DAY}.html").read_text()
    assert day_summary(ctx.settings, ctx.db, DAY, None, {}, 1.0)["recommendations_skipped"] is None
