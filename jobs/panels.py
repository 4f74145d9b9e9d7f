"""Loading the analysis panel: official bars from storage, plus the day's provisional closes from quotes.

The evening analysis runs before the official end-of-day bars exist (Polygon serves a day only after
midnight New York), so a symbol without a bar for ``day`` takes that day's close, high and low from its
latest quote of the session, with volume unknown (NaN, never a made-up number).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

import marketcal
from analysis.panel import Panel, fill_from_quotes
from jobs.storing import bars_version
from storage import bars_panel, latest_quotes

FIELDS = ("close", "high", "low", "volume")

# Sessions of history the indicators need: 252 for the 52-week range, 200 for the long averages.
HISTORY_SESSIONS = 300


def load_panel(ctx, session, day: date, symbols: Sequence[str], sessions: int = HISTORY_SESSIONS) -> Panel:
    """The (sessions x symbols) panel ending at ``day``, provisional quotes filling ``day``'s gaps; the
    stored bars come from this host's cache under ``ctx.settings.data_dir`` while it is current."""
    start = day - timedelta(days=int(sessions * 7 / 5) + 10)
    days = marketcal.trading_days(start, day)[-sessions:]
    close, high, low, volume = _stored_bars(ctx, session, days, list(symbols))
    if days and days[-1] == day:
        _fill_from_quotes(session, day, list(symbols), close, high, low)
    return Panel(tuple(days), tuple(symbols), close, high, low, volume)


def _cache_file(data_dir: str, days: list[date], symbols: list[str]) -> Path:
    digest = hashlib.sha1("\n".join(symbols).encode()).hexdigest()[:12]
    name = f"{days[0].isoformat()}_{days[-1].isoformat()}_{len(days)}_{digest}.npz"
    return Path(data_dir) / "panels" / name


def _stored_bars(ctx, session, days: list[date], symbols: list[str]) -> tuple[np.ndarray, ...]:
    """close, high, low, volume (days x symbols) of the stored bars, from this host's cache file when no
    bar was written anywhere since it was made (the Redis-held bars version), else from the database.

    Reading millions of bars takes seconds; the evening's analysis, predictions and recommendations
    read the same panel with no bar written in between, so all but the first read come from the file.
    """
    path = _cache_file(ctx.settings.data_dir, days, symbols)
    version = bars_version(ctx.redis)
    try:
        with np.load(path) as cached:
            if int(cached["version"]) == version:
                return tuple(np.array(cached[f]) for f in FIELDS)
    except (OSError, KeyError, ValueError):
        pass  # no cache yet, or an unreadable one: read the database
    stored = bars_panel(session, days[0], days[-1], symbols=symbols, days=days)
    arrays = tuple(np.array(getattr(stored, f), dtype=np.float64) for f in FIELDS)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, version=version, **dict(zip(FIELDS, arrays, strict=True)))
    os.replace(partial, path)  # atomic: a reader sees the old file or the new, never half of one
    return arrays


def _fill_from_quotes(session, day: date, symbols: list[str], close, high, low) -> int:
    missing = [symbols[i] for i in range(len(symbols)) if not np.isfinite(close[-1, i])]
    if not missing:
        return 0
    session_hours = (marketcal.session_open(day), marketcal.session_close(day))
    return fill_from_quotes(close, high, low, symbols, latest_quotes(session, missing), session_hours)


def prune_cache(data_dir: str, keep_days: float, now: float) -> int:
    """Delete this host's cached panels not modified for ``keep_days`` days before ``now`` (epoch
    seconds); returns how many."""
    folder = Path(data_dir) / "panels"
    cutoff = now - keep_days * 86400
    removed = 0
    for path in folder.glob("*.npz"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
