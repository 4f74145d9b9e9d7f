"""The universe's upkeep on a real database (SQLite and PostgreSQL): which symbols a listing refreshed,
retiring the rest with their history kept, symbols with no bar at all, pinned tiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from storage import (
    active_symbols,
    deactivate,
    listing_split,
    pinned_tiers,
    symbols_without_bars,
    upsert_bars,
    upsert_symbols,
)
from storage.models import Symbol

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BAR = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0, "source": "test"}


def test_a_listing_refreshes_some_symbols_and_the_rest_are_retired_with_their_history(db):
    with db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t} for t in ("OLD", "KEEP", "NEW")], now=T0 - timedelta(days=1))
        upsert_bars(s, [{"symbol": t, "day": date(2026, 11, 19), **BAR} for t in ("OLD", "KEEP")])
        upsert_symbols(s, [{"ticker": t} for t in ("KEEP", "NEW", "FRESH")], now=T0 + timedelta(seconds=5))
    with db.session() as s:
        assert listing_split(s, T0) == (["FRESH", "KEEP", "NEW"], ["OLD"])
        assert symbols_without_bars(s) == ["FRESH", "NEW"]
    with db.session() as s, s.begin():
        assert deactivate(s, ["OLD", "GHOST"], date(2026, 11, 20)) == ["OLD"]
        assert deactivate(s, ["OLD"], date(2026, 11, 21)) == []  # already retired: unchanged
    with db.session() as s:
        assert active_symbols(s) == ["FRESH", "KEEP", "NEW"]
        old = s.get(Symbol, "OLD")
        assert (old.active, old.delisted_on) == (False, date(2026, 11, 20))
    with db.session() as s, s.begin():  # relisted: the listing's own record makes it active again
        upsert_symbols(s, [{"ticker": "OLD", "active": True}], now=T0 + timedelta(days=2))
    with db.session() as s:
        assert "OLD" in active_symbols(s)


def test_pinned_tiers(db):
    with db.session() as s, s.begin():
        upsert_symbols(
            s, [{"ticker": "A", "pinned_tier": 1}, {"ticker": "B"}, {"ticker": "C", "pinned_tier": 4}]
        )
    with db.session() as s:
        assert pinned_tiers(s) == {"A": 1, "C": 4}
