"""Idempotent writers for market data and analysis output. Each takes the caller's session and never commits.

Records are mappings or objects with attributes named like the columns (see ``storage.models``; the
rules are in ``storage.rows``). Every writer returns the number of distinct rows written and may be
called again with the same records: values are replaced, row counts do not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import (
    ACTIONS,
    SKIPPED_CHECK,
    SKIPPED_SCOPE,
    DailyBar,
    DataQuality,
    Indicator,
    ModelVersion,
    Prediction,
    Quote,
    Recommendation,
    StaleMark,
    Symbol,
)
from storage.rows import TableSpec, as_date, normalise, spec_for
from storage.upsert import upsert, write_rows

SYMBOLS = spec_for(Symbol.__table__, aliases={"symbol": "ticker"}, stamp="updated_at")
BARS = spec_for(DailyBar.__table__, stamp="fetched_at")
QUOTES = spec_for(Quote.__table__, stamp="fetched_at")
INDICATORS = spec_for(Indicator.__table__)
MODEL_VERSIONS = spec_for(ModelVersion.__table__)
PREDICTIONS = spec_for(Prediction.__table__)
RECOMMENDATIONS = spec_for(Recommendation.__table__)
QUALITY = spec_for(DataQuality.__table__)
STALE = spec_for(StaleMark.__table__)


def upsert_symbols(session: Session, records: Iterable[Any], *, now: datetime | None = None) -> int:
    """Universe rows keyed by ``ticker`` (``symbol`` is accepted for it). ``updated_at`` defaults to now.

    Fields a record leaves out (e.g. ``tier``, ``pinned_tier`` from a provider listing) keep their values.
    """
    return upsert(session, Symbol.__table__, SYMBOLS, records, now=now)


def upsert_bars(session: Session, records: Iterable[Any], *, now: datetime | None = None) -> int:
    """Daily bars keyed by ``(symbol, day)``; a corrected bar replaces the earlier one."""
    return upsert(session, DailyBar.__table__, BARS, records, now=now)


def upsert_quotes(session: Session, records: Iterable[Any], *, now: datetime | None = None) -> int:
    """Quotes keyed by ``(symbol, at)``; ``at`` is the provider's instant (stored as UTC)."""
    return upsert(session, Quote.__table__, QUOTES, records, now=now)


def upsert_indicators(session: Session, records: Iterable[Any]) -> int:
    """Indicator rows keyed by ``(symbol, day)``; NaN values are stored as NULL."""
    return upsert(session, Indicator.__table__, INDICATORS, records)


def upsert_model_version(session: Session, record: Any) -> int:
    """Register (or update) one trained model, keyed by ``version``."""
    return upsert(session, ModelVersion.__table__, MODEL_VERSIONS, [record])


def upsert_predictions(session: Session, records: Iterable[Any]) -> int:
    """Predictions keyed by ``(symbol, day, model_version)``; the model version must be registered."""
    return upsert(session, Prediction.__table__, PREDICTIONS, records)


def replace_recommendations(
    session: Session, day: date | str, records: Iterable[Any], *, model_version: str | None = None
) -> int:
    """Make ``records`` the whole recommendation list of ``day`` (earlier rows of that day are removed).

    Records carry ``symbol, rank, action ('buy'|'hold'|'sell'), score, reasons`` and optionally ``day``
    (must equal ``day``) and ``model_version`` (else ``model_version`` given here). Returns rows written.
    """
    the_day = _checked_day(day)
    extra: dict[str, Any] = {"day": the_day}
    if model_version is not None:
        extra["model_version"] = model_version
    records = [_with(r, extra, RECOMMENDATIONS) for r in records]
    for index, fields in enumerate(records):
        action = getattr(fields.get("action"), "value", fields.get("action"))  # an Enum's value
        if action not in ACTIONS:
            raise StorageError(
                f"recommendations: record {index} action {action!r} is not one of {', '.join(ACTIONS)}"
            )
    groups = normalise(RECOMMENDATIONS, records)
    for rows in groups:
        for row in rows:
            if row["day"] != the_day:
                raise StorageError(
                    f"recommendations: row for {row['symbol']} is dated {row['day']}, not {the_day}"
                )
    session.execute(delete(Recommendation).where(Recommendation.day == the_day))
    return sum(write_rows(session, Recommendation.__table__, RECOMMENDATIONS.keys, rows) for rows in groups)


def upsert_quality(session: Session, day: date | str, records: Iterable[Any]) -> int:
    """Data-quality outcomes (``check, scope, value, threshold, ok, detail``) of ``day``, keyed by
    ``(day, check, scope)``. ``detail`` may be a mapping or text (stored as ``{"text": ...}``)."""
    the_day = _checked_day(day)
    prepared = []
    for record in records:
        fields = _with(record, {"day": the_day}, QUALITY)
        if fields["day"] not in (the_day, the_day.isoformat()):
            raise StorageError(
                f"data_quality: {fields.get('check')!r} is dated {fields['day']}, not {the_day}"
            )
        if isinstance(fields.get("detail"), str):
            fields["detail"] = {"text": fields["detail"]}
        prepared.append(fields)
    return upsert(session, DataQuality.__table__, QUALITY, prepared)


def replace_quality(session: Session, day: date | str, check: str, records: Iterable[Any]) -> int:
    """Make ``records`` the whole set of ``check``'s outcomes for ``day``: rows of that check whose scope is
    not among them are removed (e.g. symbols no longer skipped after a re-run). Returns rows written."""
    the_day = _checked_day(day)
    rows = [r if isinstance(r, Mapping) else {f: getattr(r, f) for f in QUALITY.keys if hasattr(r, f)}
            for r in records]  # fmt: skip
    wrong = [r.get("check") for r in rows if r.get("check") != check]
    if wrong:
        raise StorageError(f"data_quality: replace_quality({check!r}) got records of check {wrong[0]!r}")
    session.execute(delete(DataQuality).where(DataQuality.day == the_day, DataQuality.check == check))
    return upsert_quality(session, the_day, rows)


def record_recommendations_skipped(session: Session, day: date | str, reason: str | None) -> int:
    """Record that ``day`` has no recommendations at all and why (one line, e.g. too little history to
    train the model), or with ``reason`` None clear that record (the day was recommended after all).
    Returns rows written."""
    row = {"check": SKIPPED_CHECK, "scope": SKIPPED_SCOPE, "value": None, "threshold": None, "ok": False,
           "detail": {"reason": reason, "text": f"recommendations skipped: {reason}"}}  # fmt: skip
    return replace_quality(session, day, SKIPPED_CHECK, [row] if reason else [])


def mark_stale(session: Session, records: Iterable[Any]) -> int:
    """Record symbols served from cache: ``(symbol, day, reason[, last_good_day])``.

    When ``last_good_day`` is left out it is filled with the symbol's newest bar before ``day``
    (NULL when there is none), so the mark says how old the served data is.
    """
    groups = normalise(STALE, records)
    written = 0
    for rows in groups:
        wanted = [(r["symbol"], r["day"]) for r in rows if "last_good_day" not in r]
        found = _last_bar_before(session, wanted)
        filled = [
            {**r, "last_good_day": found.get((r["symbol"], r["day"]))} if "last_good_day" not in r else r
            for r in rows
        ]
        written += write_rows(session, StaleMark.__table__, STALE.keys, filled)
    return written


def clear_stale(session: Session, day: date | str, symbols: Iterable[str]) -> int:
    """Remove stale marks of ``day`` for ``symbols`` (fresh data arrived); returns rows removed."""
    the_day, names = _checked_day(day), sorted(set(symbols))
    removed = 0
    for start in range(0, len(names), 500):
        result = session.execute(
            delete(StaleMark).where(
                StaleMark.day == the_day, StaleMark.symbol.in_(names[start : start + 500])
            )
        )
        removed += result.rowcount or 0
    return removed


def _last_bar_before(session: Session, wanted: list[tuple[str, date]]) -> dict[tuple[str, date], date]:
    """Each ``(symbol, day)``'s newest bar day before ``day``: one grouped query per distinct day."""
    by_day: dict[date, list[str]] = {}
    for symbol, day in wanted:
        by_day.setdefault(day, []).append(symbol)
    found: dict[tuple[str, date], date] = {}
    for day, symbols in by_day.items():
        for start in range(0, len(symbols), 500):
            query = (
                select(DailyBar.symbol, func.max(DailyBar.day))
                .where(DailyBar.symbol.in_(symbols[start : start + 500]), DailyBar.day < day)
                .group_by(DailyBar.symbol)
            )
            found.update({(symbol, day): newest for symbol, newest in session.execute(query)})
    return found


def _checked_day(day: date | str) -> date:
    try:
        return as_date(day)
    except ValueError as exc:
        raise StorageError(f"day {exc}") from None


def _with(record: Any, extra: Mapping[str, Any], spec: TableSpec) -> dict[str, Any]:
    """``record`` as a dict of the fields ``spec`` knows, with ``extra`` filled in where it has none."""
    if isinstance(record, Mapping):
        fields = dict(record)
    else:
        names = (*spec.columns, *spec.aliases)
        fields = {name: getattr(record, name) for name in names if hasattr(record, name)}
    for key, value in extra.items():
        if fields.get(key) is None:
            fields[key] = value
    return fields


__all__ = [
    "clear_stale",
    "mark_stale",
    "replace_recommendations",
    "upsert_bars",
    "upsert_indicators",
    "upsert_model_version",
    "upsert_predictions",
    "upsert_quality",
    "upsert_symbols",
    "upsert_quotes",
]


def deactivate(session: Session, tickers: Iterable[str], day: date) -> list[str]:
    """Mark ``tickers`` delisted on ``day`` (inactive; their history is kept). Returns those changed."""
    tickers = sorted(set(tickers))
    if not tickers:
        return []
    changed = list(
        session.scalars(select(Symbol.ticker).where(Symbol.ticker.in_(tickers), Symbol.active.is_(True)))
    )
    for start in range(0, len(changed), 500):
        part = changed[start : start + 500]
        session.execute(
            Symbol.__table__.update().where(Symbol.ticker.in_(part)).values(active=False, delisted_on=day)
        )
    return changed
