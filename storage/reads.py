"""Readers the pipeline needs. Each takes the caller's session; day ranges include both ends.

ORM objects returned here stay readable after the session closes (``expire_on_commit=False``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import (
    SKIPPED_CHECK,
    SKIPPED_SCOPE,
    USAGE_COUNTS,
    ApiUsage,
    DailyBar,
    DataQuality,
    ModelVersion,
    Quote,
    Recommendation,
    StaleMark,
    Symbol,
)
from storage.panel import BarMatrix, to_panel
from storage.rows import as_date

IN_CHUNK = 500  # symbols per IN (...) list: well under SQLite's variable limit
BAR_COLUMNS = ("symbol", "day", "open", "high", "low", "close", "volume")
EFFECTIVE_TIER = func.coalesce(Symbol.pinned_tier, Symbol.tier)


def _day(value: date | str, name: str) -> date:
    try:
        return as_date(value)
    except ValueError as exc:
        raise StorageError(f"{name} {exc}") from None


def _chunks(symbols: Iterable[str] | None) -> list[list[str] | None]:
    """``[None]`` (no filter) or the distinct symbols in IN-sized lists."""
    if symbols is None:
        return [None]
    names = sorted(set(symbols))
    return [names[i : i + IN_CHUNK] for i in range(0, len(names), IN_CHUNK)]


def active_symbols(session: Session, tier: int | None = None) -> list[str]:
    """Active tickers, sorted; with ``tier``, only those whose effective tier (pinned, else assigned) is it."""
    query = select(Symbol.ticker).where(Symbol.active.is_(True)).order_by(Symbol.ticker)
    if tier is not None:
        query = query.where(EFFECTIVE_TIER == tier)
    return list(session.scalars(query))


def tiers(session: Session) -> dict[str, int]:
    """Effective tier of every active symbol: ``pinned_tier`` when set, else ``tier``."""
    return dict(session.execute(select(Symbol.ticker, EFFECTIVE_TIER).where(Symbol.active.is_(True))).all())


def bars_between(
    session: Session, start: date | str, end: date | str, symbols: Iterable[str] | None = None
) -> pd.DataFrame:
    """Bars from ``start`` to ``end`` as a long DataFrame (symbol, day, open, high, low, close, volume),
    sorted by symbol then day; ``day`` is datetime64[ns] at midnight; prices float64."""
    first, last = _day(start, "start"), _day(end, "end")
    wanted = None if symbols is None else sorted(set(symbols))
    # Up to one IN list, filter in SQL; beyond it one scan of the range and a filter here beats
    # many IN queries that each walk the same days.
    in_sql = wanted is not None and len(wanted) <= IN_CHUNK
    query: Select = select(*(DailyBar.__table__.c[c] for c in BAR_COLUMNS)).where(
        DailyBar.day.between(first, last)
    )
    if in_sql:
        query = query.where(DailyBar.symbol.in_(wanted))
    frame = pd.DataFrame(_driver_rows(session, query), columns=list(BAR_COLUMNS))
    frame["symbol"] = frame["symbol"].astype(object)
    frame["day"] = pd.to_datetime(frame["day"].astype(object)).astype("datetime64[ns]")
    frame[list(BAR_COLUMNS[2:])] = frame[list(BAR_COLUMNS[2:])].astype(np.float64)
    if wanted is not None and not in_sql:
        frame = frame[frame["symbol"].isin(wanted)]
    return frame.sort_values(["symbol", "day"], ignore_index=True)


def _driver_rows(session: Session, query: Select) -> list[tuple]:
    """Rows of ``query`` as the driver's plain tuples, skipping SQLAlchemy's per-row result processing.

    SQLAlchemy still binds the parameters; only the fetch goes straight to the DB-API cursor. For millions
    of bars this halves the read time on SQLite; the caller converts columns in bulk (SQLite returns days
    as ISO text, PostgreSQL as dates).
    """
    result = session.connection().execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def bars_panel(
    session: Session,
    start: date | str,
    end: date | str,
    symbols: Sequence[str] | None = None,
    days: Sequence | None = None,
) -> BarMatrix:
    """Bars from ``start`` to ``end`` as wide (days x symbols) float64 arrays with NaN where a bar is missing.

    ``symbols`` fixes the columns and their order (default: every symbol with a bar, sorted); ``days`` fixes
    the rows (e.g. the exchange's sessions, so a day nobody has a bar for shows as a NaN row; default: the
    days with at least one bar).
    """
    frame = bars_between(session, start, end, symbols)
    return to_panel(frame, symbols=symbols, days=days)


def latest_bar_day(session: Session) -> date | None:
    """The newest day with any bar, or None on an empty table."""
    return session.scalar(select(func.max(DailyBar.day)))


def last_bar_days(session: Session, symbols: Iterable[str]) -> dict[str, date | None]:
    """Each symbol's newest bar day (None without bars): rotations refresh the oldest first."""
    wanted = list(symbols)
    found: dict[str, date | None] = dict.fromkeys(wanted)
    for names in _chunks(wanted):
        query = select(DailyBar.symbol, func.max(DailyBar.day)).group_by(DailyBar.symbol)
        if names is not None:
            query = query.where(DailyBar.symbol.in_(names))
        found.update({symbol: _day(day, "day") for symbol, day in session.execute(query)})
    return found


def days_with_bars(
    session: Session, start: date | str, end: date | str, *, min_symbols: int = 1
) -> list[date]:
    """Days from ``start`` to ``end`` with bars for at least ``min_symbols`` symbols, ascending (backfill
    compares this with the exchange's sessions to find gaps)."""
    query = (
        select(DailyBar.day)
        .where(DailyBar.day.between(_day(start, "start"), _day(end, "end")))
        .group_by(DailyBar.day)
        .having(func.count() >= min_symbols)
        .order_by(DailyBar.day)
    )
    return list(session.scalars(query))


def symbols_missing_bar(session: Session, day: date | str, tier: int | None = None) -> list[str]:
    """Active symbols (optionally of one effective tier) with no bar on ``day``, sorted."""
    the_day = _day(day, "day")
    query = (
        select(Symbol.ticker)
        .outerjoin(DailyBar, and_(DailyBar.symbol == Symbol.ticker, DailyBar.day == the_day))
        .where(Symbol.active.is_(True), DailyBar.symbol.is_(None))
        .order_by(Symbol.ticker)
    )
    if tier is not None:
        query = query.where(EFFECTIVE_TIER == tier)
    return list(session.scalars(query))


def latest_quotes(session: Session, symbols: Iterable[str] | None = None) -> dict[str, Quote]:
    """Each symbol's newest quote (by ``at``)."""
    found: dict[str, Quote] = {}
    for names in _chunks(symbols):
        newest = select(Quote.symbol, func.max(Quote.at).label("at")).group_by(Quote.symbol)
        if names is not None:
            newest = newest.where(Quote.symbol.in_(names))
        sub = newest.subquery()
        query = select(Quote).join(sub, and_(Quote.symbol == sub.c.symbol, Quote.at == sub.c.at))
        found.update({q.symbol: q for q in session.scalars(query)})
    return found


def latest_model_version(session: Session) -> ModelVersion | None:
    """The most recently trained model, or None."""
    query = (
        select(ModelVersion).order_by(ModelVersion.trained_at.desc(), ModelVersion.version.desc()).limit(1)
    )
    return session.scalar(query)


def recommendations_for(session: Session, day: date | str) -> list[Recommendation]:
    """The day's recommendations, best rank first."""
    query = select(Recommendation).where(Recommendation.day == _day(day, "day"))
    return list(session.scalars(query.order_by(Recommendation.rank, Recommendation.symbol)))


def usage_for(session: Session, day: date | str) -> dict[str, dict[str, int]]:
    """``{provider: {calls, ok, throttled, quota_exhausted, errors, deferred}}`` for ``day``: the sum of
    the day's rows (one per dispatch run, and one for counts no run owns)."""
    sums = [func.sum(getattr(ApiUsage, name)) for name in USAGE_COUNTS]
    rows = session.execute(
        select(ApiUsage.provider, *sums)
        .where(ApiUsage.day == _day(day, "day"))
        .group_by(ApiUsage.provider)
        .order_by(ApiUsage.provider)
    )
    return {provider: dict(zip(USAGE_COUNTS, map(int, counts), strict=True)) for provider, *counts in rows}


def quoted_since(session: Session, symbols: Iterable[str], since) -> set[str]:
    """Those of ``symbols`` with a quote fetched at or after the aware instant ``since``."""
    out: set[str] = set()
    for chunk in _chunks(symbols):
        query = select(Quote.symbol).where(Quote.fetched_at >= since, Quote.symbol.in_(chunk)).distinct()
        out.update(session.scalars(query))
    return out


def quality_for(session: Session, day: date | str) -> list[DataQuality]:
    """The day's data-quality outcomes, by check then scope."""
    query = select(DataQuality).where(DataQuality.day == _day(day, "day"))
    return list(session.scalars(query.order_by(DataQuality.check, DataQuality.scope)))


def recommendations_skipped(session: Session, day: date | str) -> str | None:
    """Why ``day`` has no recommendations at all (``storage.writes.record_recommendations_skipped``), or None."""
    row = session.get(DataQuality, (_day(day, "day"), SKIPPED_CHECK, SKIPPED_SCOPE))
    if row is None:
        return None
    return (row.detail or {}).get("reason") or "unknown reason"


def stale_for(session: Session, day: date | str) -> dict[str, StaleMark]:
    """Symbols served from cache on ``day``."""
    query = select(StaleMark).where(StaleMark.day == _day(day, "day"))
    return {mark.symbol: mark for mark in session.scalars(query)}


def listing_split(session: Session, since) -> tuple[list[str], list[str]]:
    """Active tickers a listing refreshed at or after ``since`` (an aware datetime), and those it did not."""
    rows = session.execute(select(Symbol.ticker, Symbol.updated_at).where(Symbol.active.is_(True))).all()
    seen = sorted(t for t, at in rows if at is not None and _aware(at) >= since)
    unseen = sorted(t for t, at in rows if at is None or _aware(at) < since)
    return seen, unseen


def symbols_without_bars(session: Session) -> list[str]:
    """Active tickers with no bar at all (new listings, or a universe whose history is not loaded yet)."""
    query = (
        select(Symbol.ticker)
        .outerjoin(DailyBar, DailyBar.symbol == Symbol.ticker)
        .where(Symbol.active.is_(True), DailyBar.symbol.is_(None))
        .distinct()
        .order_by(Symbol.ticker)
    )
    return list(session.scalars(query))


def _aware(at):
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def pinned_tiers(session: Session) -> dict[str, int]:
    """The tiers operators pinned, by ticker (``stack.universe pin``)."""
    query = select(Symbol.ticker, Symbol.pinned_tier).where(Symbol.pinned_tier.is_not(None))
    return {ticker: tier for ticker, tier in session.execute(query)}
