"""Queue ``compute``: indicators and data quality, for a fetch batch (chord callback) or the whole day."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np

import marketcal
from analysis.indicators import compute_indicators, latest
from analysis.quality import run_checks
from storage import (
    active_symbols,
    complete_batch,
    latest_quotes,
    mark_stale,
    symbols_missing_bar,
    tiers,
    upsert_indicators,
    upsert_quality,
)
from tasks import context
from tasks.base import tickerbeat_task
from tasks.fetching import record_usage
from tasks.panels import load_panel

log = logging.getLogger("tickerbeat.analysis")


def indicator_rows(panel, day: date) -> list[dict]:
    """The day's indicator values per symbol that has a bar (or provisional close) on ``day``."""
    values = latest(compute_indicators(panel.close, panel.high, panel.low, panel.volume))
    has_bar = np.isfinite(panel.close[-1])
    rows = []
    for j, symbol in enumerate(panel.symbols):
        if has_bar[j]:
            row = {"symbol": symbol, "day": day}
            row.update({name: (float(v[j]) if np.isfinite(v[j]) else None) for name, v in values.items()})
            rows.append(row)
    return rows


def analyse(session, day: date, symbols: list[str]) -> int:
    """Compute and store ``day``'s indicators for ``symbols``; returns rows written."""
    if not symbols:
        return 0
    panel = load_panel(session, day, symbols)
    if panel.dates[-1] != day:
        return 0
    return upsert_indicators(session, indicator_rows(panel, day))


@tickerbeat_task(name="tasks.analysis.analyse_batch")
def analyse_batch(
    results: list, batch_id: str, day: str, indicators: bool = True, stale_if_missing: bool = True
) -> dict:
    """Chord callback of a fetch batch: usage, batch bookkeeping, then the batch's indicators.

    Symbols the batch's fallback could not serve are marked stale (served from cache) when
    ``stale_if_missing``. Runs whatever the header's outcomes were: failures are values.
    """
    the_day = date.fromisoformat(day)
    symbols = sorted({r["symbol"] for r in results if isinstance(r, dict) and r.get("symbol")})
    with context.current().db.session() as s, s.begin():
        record_usage(s, day, results)
        written = analyse(s, the_day, symbols) if indicators else 0
        stale = []
        if stale_if_missing and not indicators:
            missing = set(symbols_missing_bar(s, the_day))
            stale = [sym for sym in symbols if sym in missing]
            if stale:
                mark_stale(
                    s, [{"symbol": sym, "day": the_day, "reason": "every fallback failed"} for sym in stale]
                )
        complete_batch(s, batch_id)
    ok = sum(1 for r in results if isinstance(r, dict) and r.get("outcome") == "ok")
    return {
        "batch_id": batch_id,
        "day": day,
        "parts": len(results),
        "ok": ok,
        "indicators": written,
        "stale": len(stale),
    }


@tickerbeat_task(name="tasks.analysis.analyse_day", expires=3600)
def analyse_day(day: str) -> dict:
    """Indicators for every active symbol and the day's data-quality checks, stored."""
    the_day = date.fromisoformat(day)
    with context.current().db.session() as s, s.begin():
        symbols = active_symbols(s)
        if not symbols:
            return {"day": day, "symbols": 0, "indicators": 0, "quality": []}
        panel = load_panel(s, the_day, symbols)
        written = upsert_indicators(s, indicator_rows(panel, the_day)) if panel.dates[-1] == the_day else 0
        tier_of = {sym: str(t) for sym, t in tiers(s).items()}
        quotes = latest_quotes(s, symbols)
        # Quotes are judged against the day's close, not the wall clock: a re-run of an old day is
        # as fresh as it was then.
        checks = run_checks(
            panel,
            the_day,
            tier_of,
            {q: v.at for q, v in quotes.items()},
            now=marketcal.session_close(the_day),
        )
        upsert_quality(
            s,
            the_day,
            [
                {
                    "check": c.check,
                    "scope": c.scope,
                    "value": c.value,
                    "threshold": c.threshold,
                    "ok": c.ok,
                    "detail": {"text": c.detail},
                }
                for c in checks
            ],
        )
    failed = [f"{c.check}:{c.scope}" for c in checks if not c.ok]
    if failed:
        log.warning("data quality %s: %d checks failed: %s", day, len(failed), ", ".join(failed[:10]))
    return {"day": day, "symbols": len(symbols), "indicators": written, "quality_failed": failed}
