"""What the exporter reads from the database at scrape time: API usage, bars and data quality.

One short read-only session per scrape; raises SQLAlchemy errors (the collector reports the source down).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import marketcal
from monitoring import freshness
from monitoring.samples import Samples
from storage import latest_bar_day, symbols_missing_bar
from storage.models import ApiUsage, DataQuality, StaleMark, Symbol

# Completed batches older than this are not looked at for the last-duration gauge.
RECENT_BATCHES = timedelta(days=7)
_AGGREGATE_SCOPES = ("all", "tier:")


def read_database(session: Session, now: datetime, providers: list[str]) -> tuple[Samples, Usage]:
    """Every database-backed gauge at the aware instant ``now``, and the month's calls per provider per
    day (the input of the cost figures)."""
    out = Samples()
    usage = _usage(session, now.astimezone(UTC).date(), providers, out)
    _bars(session, now, out)
    _quality(session, out)
    return out, usage


Usage = dict[str, dict[date, int]]


def _usage(session: Session, today: date, providers: list[str], out: Samples) -> Usage:
    """Calls made per provider per UTC day of ``today``'s month, from ``api_usage``."""
    rows = session.execute(
        select(ApiUsage.provider, ApiUsage.day, ApiUsage.calls).where(
            ApiUsage.day.between(today.replace(day=1), today)
        )
    ).all()
    usage: Usage = {p: {} for p in providers}
    for provider, when, calls in rows:  # a day has one row per dispatch run: summed
        days = usage.setdefault(provider, {})
        days[when] = days.get(when, 0) + calls
    for provider, days in sorted(usage.items()):
        out.add("tickerbeat_api_usage_calls", days.get(today, 0), provider, "day")
        out.add("tickerbeat_api_usage_calls", sum(days.values()), provider, "month")
    return usage


def _bars(session: Session, now: datetime, out: Samples) -> None:
    active = session.scalar(select(func.count()).select_from(Symbol).where(Symbol.active.is_(True))) or 0
    newest = latest_bar_day(session)
    expected = freshness.expected_bar_day(now)
    missing = len(symbols_missing_bar(session, expected)) if active else 0
    stale = session.scalar(select(func.count()).select_from(StaleMark).where(StaleMark.day == expected)) or 0
    out.add("tickerbeat_active_symbols", active)
    out.add("tickerbeat_last_bar_age_seconds", freshness.bar_age_seconds(newest, now))
    out.add("tickerbeat_data_staleness_seconds", freshness.staleness_seconds(newest, now))
    out.add("tickerbeat_daily_bars_fresh_ratio", (active - missing) / active if active else 1.0)
    out.add("tickerbeat_stale_symbols", stale)


def _quality(session: Session, out: Samples) -> None:
    day = session.scalar(select(func.max(DataQuality.day)))
    if day is None:
        return
    rows = session.execute(
        select(DataQuality.check, DataQuality.scope, DataQuality.value, DataQuality.ok).where(
            DataQuality.day == day
        )
    ).all()
    close = marketcal.session_close(day) if marketcal.is_trading_day(day) else None
    out.add("tickerbeat_data_quality_day_timestamp_seconds", close.timestamp() if close else 0.0)
    anomalies: dict[str, int] = {}
    for check, scope, value, ok in sorted(rows, key=lambda r: (r[0], r[1])):
        if scope.startswith("symbol:"):
            anomalies[check] = anomalies.get(check, 0) + (0 if ok else 1)
            continue
        anomalies.setdefault(check, 0)
        if scope.startswith(_AGGREGATE_SCOPES):
            out.add("tickerbeat_data_quality_check_ok", 1.0 if ok else 0.0, check, scope)
        if check == "freshness" and scope.startswith("tier:") and value is not None:
            out.add("tickerbeat_data_freshness_ratio", value, scope.removeprefix("tier:"))
        elif check == "missing_bars" and scope == "all" and value is not None:
            out.add("tickerbeat_missing_bars_ratio", value)
    for check, n in sorted(anomalies.items()):
        out.add("tickerbeat_data_anomalies", n, check)
