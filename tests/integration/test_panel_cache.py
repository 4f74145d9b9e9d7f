"""The cached analysis panel is never older than the bars: every bar write moves the Redis-held counter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from jobs.panels import load_panel, prune_cache
from jobs.storing import store_bars
from storage import upsert_bars

DAY = date(2026, 11, 25)


def _bar(symbol: str, day: date, close: float) -> dict:
    return {"symbol": symbol, "day": day, "open": close, "high": close, "low": close, "close": close,
            "volume": 1000.0, "vwap": None, "adjusted": True, "source": "test",
            "fetched_at": datetime(2026, 11, 26, tzinfo=UTC)}  # fmt: skip


def _close(ctx, symbol="AAA"):
    with ctx.db.session() as s:
        panel = load_panel(ctx, s, DAY, ["AAA", "BBB"], sessions=5)
    return panel.close[-1, panel.symbols.index(symbol)]


def test_a_bar_written_through_the_jobs_is_seen_by_the_next_panel(ctx, tmp_path):
    store_bars(ctx, [_bar("AAA", DAY, 10.0)])
    assert _close(ctx) == 10.0
    assert list((tmp_path / "data" / "panels").glob("*.npz"))  # the panel was cached
    store_bars(ctx, [_bar("AAA", DAY, 11.0)])  # a correction
    assert _close(ctx) == 11.0
    assert np.isnan(_close(ctx, "BBB"))


def test_the_cache_is_used_while_no_bar_is_written(ctx):
    store_bars(ctx, [_bar("AAA", DAY, 10.0)])
    assert _close(ctx) == 10.0
    # a write that bypasses the counter is not seen: proof the second read came from the cache
    with ctx.db.session() as s, s.begin():
        upsert_bars(s, [_bar("AAA", DAY, 99.0)])
    assert _close(ctx) == 10.0


def test_old_cached_panels_are_pruned(ctx, tmp_path):
    import time

    store_bars(ctx, [_bar("AAA", DAY, 10.0)])
    _close(ctx)
    (cached,) = (tmp_path / "data" / "panels").glob("*.npz")
    assert prune_cache(ctx.settings.data_dir, 3, time.time()) == 0 and cached.exists()
    # the clock is passed in: four days on, the file is old enough to go
    assert (
        prune_cache(ctx.settings.data_dir, 3, cached.stat().st_mtime + 4 * 86400) == 1 and not cached.exists()
    )
