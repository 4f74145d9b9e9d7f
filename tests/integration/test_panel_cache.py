"""The cached analysis panel is never older than the bars: every bar write moves the Redis-held counter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from runtime import resources
from runtime.settings import Settings
from storage import upsert_bars
from storage.migrate import upgrade
from tasks.panels import load_panel
from tasks.storing import store_bars

DAY = date(2026, 11, 25)


def _bar(symbol: str, day: date, close: float) -> dict:
    return {"symbol": symbol, "day": day, "open": close, "high": close, "low": close, "close": close,
            "volume": 1000.0, "vwap": None, "adjusted": True, "source": "test",
            "fetched_at": datetime(2026, 11, 26, tzinfo=UTC)}  # fmt: skip


@pytest.fixture
def ctx(tmp_path, redis_url, database_url):
    from storage.testing import scratch_database

    with scratch_database(database_url) as url:
        upgrade(url)
        settings = Settings.from_env(
            {"REDIS_URL": redis_url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(tmp_path)}
        )
        installed = resources.Resources(settings)
        resources.install(installed)
        yield installed
        resources.reset()


def _close(ctx, symbol="AAA"):
    with ctx.db.session() as s:
        panel = load_panel(s, DAY, ["AAA", "BBB"], sessions=5)
    return panel.close[-1, panel.symbols.index(symbol)]


def test_a_bar_written_through_the_tasks_is_seen_by_the_next_panel(ctx, tmp_path):
    store_bars([_bar("AAA", DAY, 10.0)])
    assert _close(ctx) == 10.0
    assert list((tmp_path / "panels").glob("*.npz"))  # the panel was cached
    store_bars([_bar("AAA", DAY, 11.0)])  # a correction
    assert _close(ctx) == 11.0
    assert np.isnan(_close(ctx, "BBB"))


def test_the_cache_is_used_while_no_bar_is_written(ctx):
    store_bars([_bar("AAA", DAY, 10.0)])
    assert _close(ctx) == 10.0
    # a write that bypasses the counter is not seen: proof the second read came from the cache
    with ctx.db.session() as s, s.begin():
        upsert_bars(s, [_bar("AAA", DAY, 99.0)])
    assert _close(ctx) == 10.0


def test_old_cached_panels_are_pruned(ctx, tmp_path):
    import os

    from tasks.panels import prune_cache

    store_bars([_bar("AAA", DAY, 10.0)])
    _close(ctx)
    (cached,) = (tmp_path / "panels").glob("*.npz")
    assert prune_cache(3) == 0 and cached.exists()
    four_days_ago = cached.stat().st_mtime - 4 * 86400
    os.utime(cached, (four_days_ago, four_days_ago))
    assert prune_cache(3) == 1 and not cached.exists()
