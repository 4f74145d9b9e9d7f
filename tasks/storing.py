"""Storage steps shared by the fetch tasks: bars (with the change counter cached panels check), symbols."""

from __future__ import annotations

from datetime import date

from runtime import keys, resources
from storage import bars_between, upsert_bars, upsert_symbols


def store_bars(bars) -> int:
    """Upsert ``bars`` in a transaction of its own, then count a change of the bars table: after the
    commit, so a panel cached under the new count always holds these bars."""
    with resources.current().db.session() as s, s.begin():
        written = upsert_bars(s, bars)
    if written:
        resources.current().redis.incr(keys.BARS_VERSION)
    return written


def bars_version() -> int:
    """How many writes the bars table has seen (a global counter in Redis; 0 before the first)."""
    return int(resources.current().redis.get(keys.BARS_VERSION) or 0)


def store_missing_bars(result, symbol: str, start: date, end: date) -> int:
    """Store ``result``'s bars of ``symbol`` between ``start`` and ``end`` on days that have none yet."""
    with resources.current().db.session() as s:
        have = {d.date() for d in bars_between(s, start, end, [symbol])["day"]}
    return store_bars(
        [b for b in result.records if b.symbol == symbol and start <= b.day <= end and b.day not in have]
    )


def store_symbols(result) -> int:
    """Upsert a listing's symbols into the universe (tiers and pins are left as they are)."""
    with resources.current().db.session() as s, s.begin():
        return upsert_symbols(s, result.records)
