"""Storage steps shared by the fetch tasks: bars (with the change counter cached panels check), symbols."""

from __future__ import annotations

from datetime import date

from storage import bars_between, upsert_bars, upsert_symbols
from tasks import context

BARS_VERSION_KEY = "tickerbeat:bars:version"


def store_bars(bars) -> int:
    """Upsert ``bars`` in a transaction of its own, then count a change of the bars table: after the
    commit, so a panel cached under the new count always holds these bars."""
    with context.current().db.session() as s, s.begin():
        written = upsert_bars(s, bars)
    if written:
        context.current().redis.incr(BARS_VERSION_KEY)
    return written


def bars_version() -> int:
    """How many writes the bars table has seen (a global counter in Redis; 0 before the first)."""
    return int(context.current().redis.get(BARS_VERSION_KEY) or 0)


def store_missing_bars(result, symbol: str, start: date, end: date) -> int:
    """Store ``result``'s bars of ``symbol`` between ``start`` and ``end`` on days that have none yet."""
    with context.current().db.session() as s:
        have = {d.date() for d in bars_between(s, start, end, [symbol])["day"]}
    return store_bars(
        [b for b in result.records if b.symbol == symbol and start <= b.day <= end and b.day not in have]
    )


def store_symbols(result) -> int:
    """Upsert a listing's symbols into the universe (tiers and pins are left as they are)."""
    with context.current().db.session() as s, s.begin():
        return upsert_symbols(s, result.records)
