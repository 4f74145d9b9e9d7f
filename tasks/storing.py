"""Storage steps shared by the fallback fetch tasks."""

from __future__ import annotations

from datetime import date

from storage import bars_between, upsert_bars, upsert_symbols
from tasks import context


def store_missing_bars(result, symbol: str, start: date, end: date) -> int:
    """Store ``result``'s bars of ``symbol`` between ``start`` and ``end`` on days that have none yet."""
    with context.current().db.session() as s, s.begin():
        have = {d.date() for d in bars_between(s, start, end, [symbol])["day"]}
        bars = [
            b for b in result.records if b.symbol == symbol and start <= b.day <= end and b.day not in have
        ]
        return upsert_bars(s, bars)


def store_symbols(result) -> int:
    """Upsert a listing's symbols into the universe (tiers and pins are left as they are)."""
    with context.current().db.session() as s, s.begin():
        return upsert_symbols(s, result.records)
