"""Storage steps of the fetch tasks: bars (with the change counter cached panels check), quotes, symbols.

A provider's answer is stored record by record as far as the data goes, and all or nothing as far as the
database goes:

1. every record is fitted to its table first (``storage.rows.fit``, bounds from the model's columns): text
   longer than its column is cut to the column's length, and a record holding a value its column cannot
   take (a non-finite price, an overlong key...) is refused alone, logged with its reason and counted;
2. the rest is written in ONE transaction, so an answer is never half stored. Should the database still
   refuse it for a data reason (a constraint; ``storage.upsert.is_data_error``), the rows are split until
   the refused ones are found and left out (``storage.upsert.write_what_fits``): the others are stored;
3. an operational failure (connection lost, database locked or read-only; ``storage.upsert.is_operational``)
   is not the data's fault: the whole step is tried again, ``ATTEMPTS`` times in all with
   ``BACKOFF_SECONDS`` between, then ``DatabaseUnavailable`` is raised with nothing of the answer written
   (``jobs.fetching`` then puts the call back in line).

Each step returns a ``Stored``: what was written, what was refused and why, and the retries it took.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from runtime import keys
from storage import active_symbols, bars_between, upsert_bars, upsert_quotes, upsert_symbols
from storage.rows import TableSpec, fit
from storage.upsert import failure_reason, is_operational, write_what_fits
from storage.writes import BARS, QUOTES, SYMBOLS

log = logging.getLogger("tickerbeat.store")

# Tries of a store step that fails operationally, and the pause (seconds) before each retry: enough to
# ride out a dropped connection or a short lock (SQLite's own busy timeout already waits up to 30 s per
# try), short enough that a worker is not held long when the database is down: the call then goes back
# in line instead (jobs.fetching).
ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 2.0)
# Seconds no provider call is made after the database failed a store step that many times: several times
# the retries' span, so a database that stays down costs one answer per hold and worker process, not the
# quota (jobs.fetching checks the hold before each call, jobs.feeder before releasing).
DB_HOLD_SECONDS = 30
SHOWN = 3  # refused records quoted in a message

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database failed a store step operationally ``ATTEMPTS`` times; nothing of it was written.
    ``retries``: the failed tries that were tried again (for the metrics)."""

    def __init__(self, message: str, retries: int) -> None:
        super().__init__(message)
        self.retries = retries


@dataclass(frozen=True)
class Stored:
    """What a store step did. ``written``: distinct rows written; ``offered``: records given to the
    database (after any filter of the step); ``refused``: ``(key, reason)`` of those it could not hold (the
    record's natural key as text), each that record's bad data; ``cut``: text values shortened to fit their
    column; ``retries``: operational failures tried again before the step succeeded."""

    written: int
    offered: int = 0
    refused: tuple[tuple[str, str], ...] = ()
    cut: int = 0
    retries: int = 0

    @property
    def bad_data(self) -> bool:
        """Records were offered and none could be stored: the answer's outcome is bad data."""
        return bool(self.refused) and not self.written

    def reason(self) -> str:
        """The refused records and why, in one line (the first ``SHOWN``)."""
        shown = "; ".join(f"{label}: {why}" for label, why in self.refused[:SHOWN])
        more = f" (and {len(self.refused) - SHOWN} more)" if len(self.refused) > SHOWN else ""
        return f"storage refused {len(self.refused)} of {self.offered} records: {shown}{more}"


def hold_database(redis, reason: str) -> None:
    """Hold provider calls for ``DB_HOLD_SECONDS``: the database just failed a store step (``reason``)."""
    try:
        redis.set(keys.DB_HOLD, reason[:300], ex=DB_HOLD_SECONDS)
    except (RedisError, OSError) as exc:
        log.warning("the database hold could not be set (%s)", exc)


def database_hold(redis) -> str | None:
    """Why no provider call may be made now (the database failed a store step lately), or None. Redis
    being unreachable is no reason here: the quota engine fails closed on its own."""
    try:
        held = redis.get(keys.DB_HOLD)
    except (RedisError, OSError):
        return None
    return held.decode() if isinstance(held, bytes) else held


def retrying(what: str, step: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> tuple[T, int]:
    """``step()`` and the operational failures it took; tried ``ATTEMPTS`` times in all, else
    ``DatabaseUnavailable``. Any other exception propagates at once (a bug, or a data error)."""
    for attempt in range(ATTEMPTS):
        try:
            return step(), attempt
        except SQLAlchemyError as exc:
            if not is_operational(exc):
                raise
            if attempt + 1 == ATTEMPTS:
                raise DatabaseUnavailable(
                    f"database unavailable: {what} failed {ATTEMPTS} times, the last: {failure_reason(exc)}",
                    attempt,
                ) from None
            wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            log.warning("%s: the database failed (%s); trying again in %g s", what, failure_reason(exc), wait)
            sleep(wait)
    raise AssertionError("unreachable")


def store(ctx, what: str, spec: TableSpec, write: Callable, records: Iterable) -> Stored:
    """Fit ``records`` to ``spec``'s table and write what fits with ``write(session, rows)`` in one
    transaction, retried on operational failures (see the module docstring)."""
    fitted = fit(spec, records)
    for label, why in fitted.refused:
        log.warning("%s: refused %s: %s", what, label, why)

    def attempt() -> tuple[int, list]:
        with ctx.db.session() as s, s.begin():
            return write_what_fits(s, write, fitted.rows)

    (written, refused), retries = retrying(what, attempt)
    labels = [(" ".join(str(row[k]) for k in spec.keys), why) for row, why in refused]
    for label, why in labels:
        log.warning("%s: the database refused %s: %s", what, label, why)
    offered = len(fitted.rows) + len(fitted.refused)
    return Stored(written, offered, tuple(fitted.refused) + tuple(labels), fitted.cut, retries)


def store_bars(ctx, bars) -> Stored:
    """Upsert ``bars`` in a transaction of its own, then count a change of the bars table: after the
    commit, so a panel cached under the new count always holds these bars."""
    stored = store(ctx, "daily_bars", BARS, upsert_bars, bars)
    if stored.written:
        ctx.redis.incr(keys.BARS_VERSION)
    return stored


def bars_version(redis) -> int:
    """How many writes the bars table has seen (a global counter in Redis; 0 before the first)."""
    return int(redis.get(keys.BARS_VERSION) or 0)


def _read(ctx, what: str, query: Callable) -> tuple[object, int]:
    def attempt():
        with ctx.db.session() as s:
            return query(s)

    return retrying(what, attempt)


def store_universe_bars(ctx, result) -> Stored:
    """``result``'s bars of the universe's symbols (all of them while the universe is empty)."""
    universe, retries = _read(ctx, "daily_bars: reading the universe", lambda s: set(active_symbols(s)))
    stored = store_bars(ctx, [b for b in result.records if not universe or b.symbol in universe])
    return _plus_retries(stored, retries)


def store_missing_bars(ctx, result, symbol: str, start: date, end: date) -> Stored:
    """Store ``result``'s bars of ``symbol`` between ``start`` and ``end`` on days that have none yet."""
    frame, retries = _read(
        ctx, "daily_bars: reading the days held", lambda s: bars_between(s, start, end, [symbol])
    )
    have = {d.date() for d in frame["day"]}
    stored = store_bars(
        ctx, [b for b in result.records if b.symbol == symbol and start <= b.day <= end and b.day not in have]
    )
    return _plus_retries(stored, retries)


def store_quotes(ctx, result) -> Stored:
    """Upsert ``result``'s quotes, by (symbol, quote time)."""
    return store(ctx, "quotes", QUOTES, upsert_quotes, result.records)


def store_symbols(ctx, result) -> Stored:
    """Upsert a listing's symbols into the universe (tiers and pins are left as they are)."""
    return store(ctx, "symbols", SYMBOLS, upsert_symbols, result.records)


def _plus_retries(stored: Stored, retries: int) -> Stored:
    return replace(stored, retries=stored.retries + retries) if retries else stored
