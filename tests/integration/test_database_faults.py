"""The database locked, read-only or failing for a while under a fetch: clear errors, bounded retries, no
partial rows, the call back in line, no quota spent while it lasts, and the data once it is back.

Real parts throughout: the sandbox's grouped-daily answer (~300 bars) through ``jobs.fetching.run_fetch``,
``jobs.storing`` on the real database (SQLite, or PostgreSQL with TEST_DATABASE_URL) and, for the
dispatched call, the real ``Backlog`` on the test Redis. The faults are the database's own:

- locked: another connection holds the write lock (SQLite ``BEGIN EXCLUSIVE``, PostgreSQL ``LOCK TABLE``),
  and the engine under test gives up on a lock after 0.1 s (``PRAGMA busy_timeout`` / ``lock_timeout``)
  instead of its production 30 s, as a lock held for minutes would make it;
- read-only: every connection handed out is read-only (SQLite ``PRAGMA query_only``, PostgreSQL
  ``default_transaction_read_only``), as after a failover to a replica or a full disk;
- failing mid-answer: a trigger makes the database fail (an I/O error) on a row late in the answer, after
  earlier rows of the same transaction were written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.pool import NullPool

import marketcal
from dispatch import RunSpec
from jobs import runs
from jobs.feeder import feed_all
from jobs.fetching import run_fetch
from jobs.storing import ATTEMPTS, DB_HOLD_SECONDS, store_universe_bars
from monitoring import recording
from runtime import keys
from storage.engine import build_engine
from storage.models import DailyBar
from tests.integration.fetching import fetch_ctx

pytestmark = pytest.mark.redis

DAY = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
LOCK_WAIT_MS = 100


@pytest.fixture
def ctx(tmp_path, redis_url, database_url, sandbox_fast):
    """The fetch resources on the sandbox. The quota engine journals its grants in the same database (an
    activity lease, renewed every few minutes for Polygon's minute windows): one grant is taken before any
    fault, as by a worker already running, so the faults meet the store and not the journal."""
    with fetch_ctx(tmp_path, redis_url, database_url, sandbox_fast.env()) as built:
        _short_lock_waits(built.db.engine)
        built.limiter.acquire("polygon", built.policy("polygon"))
        yield built


def _autocommit(dbapi, statement: str) -> None:
    """Run a session setting on a raw psycopg connection outside any transaction (a rollback keeps it)."""
    was = dbapi.autocommit
    dbapi.autocommit = True
    try:
        dbapi.execute(statement)
    finally:
        dbapi.autocommit = was


def _short_lock_waits(engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi, _record) -> None:
        if engine.dialect.name == "sqlite":
            dbapi.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
        else:
            _autocommit(dbapi, f"SET lock_timeout = '{LOCK_WAIT_MS}ms'")


@contextmanager
def locked(url: str, release: threading.Event) -> Iterator[None]:
    """Another connection holds the write lock on the bars until ``release`` is set."""
    taken = threading.Event()

    def hold() -> None:
        engine = build_engine(url, poolclass=NullPool)
        with engine.connect() as c:
            c.exec_driver_sql(
                "BEGIN EXCLUSIVE"
                if engine.dialect.name == "sqlite"
                else "LOCK TABLE daily_bars IN ACCESS EXCLUSIVE MODE"
            )
            taken.set()
            release.wait(60)
            c.rollback()
        engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(30), "the lock was not taken"
    try:
        yield
    finally:
        release.set()
        holder.join(60)


class ReadOnly:
    """While ``on``, every connection the engine hands out is read-only."""

    def __init__(self, engine) -> None:
        self.on = False
        self.sqlite = engine.dialect.name == "sqlite"
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi, _record, _proxy) -> None:
        if self.sqlite:
            dbapi.execute(f"PRAGMA query_only = {int(self.on)}")
        else:
            _autocommit(dbapi, f"SET default_transaction_read_only = {'on' if self.on else 'off'}")


class FailingLate:
    """While ``on``, the database fails with an I/O error on any bar of a symbol from ``M`` on: the answer's
    earlier rows are already written in the same transaction when it does."""

    def __init__(self, engine) -> None:
        self.on = False
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", lambda dbapi, _r: dbapi.create_function("fault", 0, self._fault))
            engine.dispose()  # connections made before the listener lack the function
            sql = ["CREATE TRIGGER fail_late BEFORE INSERT ON daily_bars WHEN NEW.symbol >= 'M' "
                   "BEGIN SELECT fault(); END"]  # fmt: skip
        else:
            sql = ["CREATE TABLE fault_switch (active boolean NOT NULL)", "INSERT INTO fault_switch VALUES (false)",
                   "CREATE FUNCTION fail_late() RETURNS trigger AS $$ BEGIN IF (SELECT active FROM fault_switch) "
                   "THEN RAISE EXCEPTION 'could not write block: I/O error' USING ERRCODE = '58030'; END IF; "
                   "RETURN NEW; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER fail_late BEFORE INSERT ON daily_bars FOR EACH ROW WHEN (NEW.symbol >= 'M') "
                   "EXECUTE FUNCTION fail_late()"]  # fmt: skip
        self.engine = engine
        with engine.begin() as c:
            for statement in sql:
                c.exec_driver_sql(statement)

    def _fault(self) -> int:
        if self.on:
            raise OSError("could not write block: I/O error")
        return 0

    def switch(self, on: bool) -> None:
        self.on = on
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as c:
                c.exec_driver_sql(f"UPDATE fault_switch SET active = {'true' if on else 'false'}")


def _bars(ctx) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(DailyBar))


def _failures(ctx) -> dict[str, float]:
    counted = recording.counts(ctx.redis.hgetall(recording.STORE_FAILURES_KEY), 2)
    return {outcome: n for (provider, outcome), n in counted.items() if provider == "polygon"}


def _fetch(ctx) -> dict:
    return run_fetch(ctx, "polygon", lambda c: c.grouped_daily(DAY), lambda r: store_universe_bars(ctx, r))


def test_a_short_lock_is_retried_and_the_data_arrives_in_the_same_call(ctx, sandbox_fast):
    release = threading.Event()
    threading.Timer(1.0, release.set).start()  # longer than a lock wait, shorter than the retries
    with locked(ctx.settings.database_url, release):
        summary = _fetch(ctx)

    assert summary["outcome"] == "ok" and summary["stored"] == summary["records"] > 100, summary
    assert _bars(ctx) == summary["stored"]
    assert 1 <= _failures(ctx)["retried"] < ATTEMPTS
    assert ctx.redis.get(keys.DB_HOLD) is None
    assert sandbox_fast.stats()["providers"]["polygon"]["calls"] == 1


def test_a_read_only_database_puts_the_call_back_in_line_and_no_quota_is_spent_until_it_takes_writes(
    ctx, sandbox_fast, caplog
):
    day = DAY.isoformat()
    spec = RunSpec(
        f"eod-test:{day}", "polygon", "tasks.polygon.fetch_grouped_daily", "day", day, "polygon.test"
    )
    assert ctx.backlog.submit(spec, [day]) == 1
    read_only = ReadOnly(ctx.db.engine)
    read_only.on = True

    # 1. the store fails ATTEMPTS times: the reason is clear, nothing is written, the call goes back in line
    (release,) = ctx.backlog.take("polygon", 1)
    summary = runs.call_dispatched(ctx, "polygon", release.member, lambda: _fetch(ctx))
    assert summary["outcome"] == "unavailable" and summary["stored"] == 0
    assert summary["message"].startswith(f"database unavailable: daily_bars failed {ATTEMPTS} times")
    assert "read" in summary["message"].lower()  # "readonly database" / "read-only transaction"
    assert _bars(ctx) == 0
    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.made, ledger.deferred, ledger.backlog, ledger.pending, ledger.problems()) == (
        0,
        1,
        1,
        1,
        [],
    )
    assert _failures(ctx) == {"retried": ATTEMPTS - 1, "unavailable": 1}
    assert 0 < ctx.redis.ttl(keys.DB_HOLD) <= DB_HOLD_SECONDS
    assert sandbox_fast.stats()["providers"]["polygon"]["calls"] == 1

    # 2. while the hold stands the feeder releases nothing, and a call released before it makes no provider
    # call: it goes straight back in line
    assert (feed_all(ctx)["polygon"]["released"], ctx.backlog.depth("polygon")) == (0, (1, 0))
    (release,) = ctx.backlog.take("polygon", 1)
    summary = runs.call_dispatched(ctx, "polygon", release.member, lambda: _fetch(ctx))
    assert summary["outcome"] == "unavailable" and summary["message"].startswith(
        "no call made: database unavailable"
    )
    assert sandbox_fast.stats()["providers"]["polygon"]["calls"] == 1
    assert _failures(ctx)["held"] == 1

    # 3. writable again, and the hold over (dropped here rather than waited out): the data arrives
    read_only.on = False
    ctx.redis.delete(keys.DB_HOLD)
    (release,) = ctx.backlog.take("polygon", 1)
    summary = runs.call_dispatched(ctx, "polygon", release.member, lambda: _fetch(ctx))
    assert summary["outcome"] == "ok" and summary["stored"] > 100
    assert _bars(ctx) == summary["stored"]
    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.made, ledger.deferred, ledger.deferred_made, ledger.done, ledger.problems()) == (
        1,
        2,
        1,
        True,
        [],
    )
    assert sandbox_fast.stats()["providers"]["polygon"]["calls"] == 2
    assert any("the call goes back in line" in r.getMessage() for r in caplog.records)


def test_a_database_failing_mid_answer_leaves_no_partial_rows(ctx, sandbox_fast):
    fault = FailingLate(ctx.db.engine)
    fault.switch(True)
    summary = _fetch(ctx)
    assert summary["outcome"] == "unavailable" and "OperationalError" in summary["message"], summary
    assert _bars(ctx) == 0  # rows before the failing one were written, then rolled back with it

    fault.switch(False)
    ctx.redis.delete(keys.DB_HOLD)
    summary = _fetch(ctx)
    assert summary["outcome"] == "ok" and _bars(ctx) == summary["stored"] > 100
