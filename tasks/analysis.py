"""Queue ``compute``: indicators and data quality, for a run of fetches (its callback) or the whole day
(``jobs.analysis`` does the work)."""

from __future__ import annotations

from jobs import analysis, names
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.ANALYSE_RUN)
def analyse_run(run_id: str, day: str, indicators: bool = True, stale_if_missing: bool = False) -> dict:
    """Callback of a run of fetches, once nothing is pending: usage, then the indicators of the symbols
    answered ``ok`` (``stale_if_missing``: the run's symbols still without ``day``'s bar marked stale)."""
    return analysis.analyse_run(resources.current(), run_id, day, indicators, stale_if_missing)


@tickerbeat_task(name="tasks.analysis.analyse_day", expires=3600)
def analyse_day(day: str) -> dict:
    """Indicators for every active symbol and the day's data-quality checks, stored."""
    ctx = resources.current()
    with ctx.db.session() as s, s.begin():
        return analysis.analyse_day(ctx, s, day)
