"""The analysis jobs: indicators and data quality, for a run of fetches or for the whole day."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date

import marketcal
from analysis.indicators import indicator_rows
from analysis.quality import run_checks
from jobs.panels import load_panel
from jobs.planner import record_run_usage
from storage import (
    active_symbols,
    latest_quotes,
    mark_stale,
    symbols_missing_bar,
    tiers,
    upsert_indicators,
    upsert_quality,
)

log = logging.getLogger("tickerbeat.analysis")


def analyse(ctx, session, day: date, symbols: list[str]) -> int:
    """Compute and store ``day``'s indicators for ``symbols``; returns rows written."""
    if not symbols:
        return 0
    panel = load_panel(ctx, session, day, symbols)
    if panel.dates[-1] != day:
        return 0
    return upsert_indicators(session, indicator_rows(panel, day))


def analyse_run(ctx, run_id: str, day: str, indicators: bool, stale_if_missing: bool) -> dict:
    """A run of fetches is complete: its usage, then the indicators of the symbols answered ``ok``.
    ``stale_if_missing`` (fallback runs): the run's symbols still without ``day``'s bar are marked stale
    (served from cache) with the reason."""
    ledger = ctx.backlog.ledger(run_id)
    ok = ctx.backlog.ok_keys(run_id)
    the_day = date.fromisoformat(day)
    with ctx.db.session() as s, s.begin():
        record_run_usage(s, ledger)
        written = analyse(ctx, s, the_day, ok) if indicators else 0
        stale = []
        if stale_if_missing:
            missing = set(symbols_missing_bar(s, the_day))
            stale = [sym for sym in ctx.backlog.keys(run_id) if sym in missing]
            mark_stale(
                s, [{"symbol": sym, "day": the_day, "reason": "every fallback failed"} for sym in stale]
            )
    return {"run": run_id, "day": day, "ok": len(ok), "indicators": written, "stale": len(stale),
            "made": ledger.made if ledger else 0}  # fmt: skip


def analyse_day(ctx, session, day: str) -> dict:
    """Indicators for every active symbol and the day's data-quality checks, stored."""
    the_day = date.fromisoformat(day)
    symbols = active_symbols(session)
    if not symbols:
        return {"day": day, "symbols": 0, "indicators": 0, "quality": []}
    panel = load_panel(ctx, session, the_day, symbols)
    written = upsert_indicators(session, indicator_rows(panel, the_day)) if panel.dates[-1] == the_day else 0
    quotes = latest_quotes(session, symbols)
    # Quotes are judged against the day's close, not the wall clock: a re-run of an old day is as fresh
    # as it was then.
    checks = run_checks(panel, the_day, {sym: str(t) for sym, t in tiers(session).items()},
                        {q: v.at for q, v in quotes.items()}, now=marketcal.session_close(the_day))  # fmt: skip
    upsert_quality(session, the_day, [quality_row(c) for c in checks])
    failed = [f"{c.check}:{c.scope}" for c in checks if not c.ok]
    if failed:
        log.warning("data quality %s: %d checks failed: %s", day, len(failed), ", ".join(failed[:10]))
    return {"day": day, "symbols": len(symbols), "indicators": written, "quality_failed": failed}


def quality_row(check) -> dict:
    """A ``QualityResult`` as a ``data_quality`` row (its text detail kept under ``detail.text``)."""
    row = asdict(check)
    return {**row, "detail": {"text": row.pop("detail")}}
