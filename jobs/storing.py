"""Storage steps of the fetch tasks: bars (with the change counter cached panels check), quotes, symbols."""

from __future__ import annotations

from datetime import date

from runtime import keys
from storage import active_symbols, bars_between, upsert_bars, upsert_quotes, upsert_symbols


def store_bars(ctx, bars) -> int:
    """Upsert ``bars`` in a transaction of its own, then count a change of the bars table: after the
    commit, so a panel cached under the new count always holds these bars."""
    with ctx.db.session() as s, s.begin():
        written = upsert_bars(s, bars)
    if written:
        ctx.redis.incr(keys.BARS_VERSION)
    return written


def bars_version(redis) -> int:
    """How many writes the bars table has seen (a global counter in Redis; 0 before the first)."""
    return int(redis.get(keys.BARS_VERSION) or 0)


def store_universe_bars(ctx, result) -> int:
    """``result``'s bars of the universe's symbols (all of them while the universe is empty)."""
    with ctx.db.session() as s:
        universe = set(active_symbols(s))
    return store_bars(ctx, [b for b in result.records if not universe or b.symbol in universe])


def store_missing_bars(ctx, result, symbol: str, start: date, end: date) -> int:
    """Store ``result``'s bars of ``symbol`` between ``start`` and ``end`` on days that have none yet."""
    with ctx.db.session() as s:
        have = {d.date() for d in bars_between(s, start, end, [symbol])["day"]}
    return store_bars(
        ctx, [b for b in result.records if b.symbol == symbol and start <= b.day <= end and b.day not in have]
    )


def store_quotes(ctx, result) -> int:
    """Upsert ``result``'s quotes, by (symbol, quote time)."""
    with ctx.db.session() as s, s.begin():
        return upsert_quotes(s, result.records)


def store_symbols(ctx, result) -> int:
    """Upsert a listing's symbols into the universe (tiers and pins are left as they are)."""
    with ctx.db.session() as s, s.begin():
        return upsert_symbols(s, result.records)
