"""Column types that behave the same on SQLite and PostgreSQL.

``UTCDateTime`` stores instants as UTC. SQLite has no time zone type, so SQLAlchemy would silently drop
an offset; this type converts every aware value to UTC before binding (naive values are taken as UTC) and
hands back aware UTC datetimes from both dialects, so ``(symbol, at)`` keys compare equal for equal instants.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored as UTC (``timestamptz`` on PostgreSQL, ISO text on SQLite), read back aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else as_utc(value)
