"""A whole tickerbeat on this machine: a private Redis, the sandbox, a database, a worker per queue and
the day driver. ``make demo``, ``make validate``, ``bench/day.py`` and the end-to-end tests all start it
the same way, and judge a day by the same coverage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import redis
from sqlalchemy import select

from runtime.queues import QUEUES
from runtime.settings import Settings
from stack.day import DayDriver
from stack.redis_server import RedisServer
from stack.workers import ProcessSet
from storage import Database, recommendations_for
from storage.migrate import upgrade
from storage.models import DailyBar, DataQuality, Indicator, StaleMark, Symbol
from worker.app import make_app

PROVIDER_PREFIXES = ("FINNHUB", "POLYGON", "ALPHAVANTAGE", "YAHOO")
# Worker processes per queue when the stack shares 2 cores with other work (tests, validation): at most
# two for a provider queue, one for the rest, never more than the declaration gives.
LIGHT_CONCURRENCY: dict[str, int] = {q.name: min(q.concurrency, 2 if q.provider else 1) for q in QUEUES}


@dataclass
class LocalStack:
    settings: Settings
    env: dict[str, str]
    sandbox: object | None  # sandbox.testing.SandboxProcess when the stack drives its own
    procs: ProcessSet
    driver: DayDriver
    redis: redis.Redis
    db: Database
    work: Path


@contextmanager
def local_stack(work: Path, *, symbols: int | None, sandbox_now: datetime | None = None, profile: str = "demo",
                database_url: str | None = None, private_schema: bool = False, redis_url: str | None = None,
                concurrency: Mapping[str, int] | None = None, extra_env: Mapping[str, str] | None = None,
                loglevel: str = "WARNING", timeout: float = 900.0, api_key: str = "local-key",
                say: Callable[[str], None] = print) -> Iterator[LocalStack]:  # fmt: skip
    """Start everything, yield it, stop everything (also on errors).

    ``symbols``: the sandbox's universe, its clock at ``sandbox_now`` and the providers' plans set to
    ``profile``; None to use the providers the environment (``extra_env``) names instead. ``database_url``:
    default a SQLite file in ``work``; ``private_schema``: on PostgreSQL, a scratch schema dropped on exit
    (tests). ``redis_url``: an existing Redis, else a private one is started.
    """
    from storage.testing import scratch_database

    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if redis_url is None:
            redis_url = stack.enter_context(RedisServer()).url
        env = {"REDIS_URL": redis_url, "TICKERBEAT_DATA_DIR": str(work / "data"),
               "TICKERBEAT_REPORTS_DIR": str(work / "reports")}  # fmt: skip
        sandbox = None
        if symbols is not None:
            from sandbox.testing import SandboxProcess

            sandbox = stack.enter_context(
                SandboxProcess(profile=profile, symbols=symbols, now=sandbox_now, startup_timeout=180)
            )
            env.update(sandbox.env(api_key=api_key))
            env.update({f"{p}_PLAN": profile for p in PROVIDER_PREFIXES})
        env.update(extra_env or {})
        url = database_url or f"sqlite:///{work / 'tickerbeat.db'}"
        if private_schema:
            url = stack.enter_context(scratch_database(url))
        env["DATABASE_URL"] = url
        settings = Settings.from_env(
            {**os.environ, **env}
        )  # what the workers see (ProcessSet adds os.environ)
        upgrade(url)
        procs = stack.enter_context(ProcessSet(env, work / "logs"))
        procs.start_workers(concurrency=concurrency, loglevel=loglevel)
        client = redis.Redis.from_url(redis_url)
        stack.callback(client.close)
        db = Database(url)
        stack.callback(db.dispose)
        driver = DayDriver(make_app(settings), client, sandbox=sandbox, timeout=timeout, check=procs.check_alive,
                           say=say)  # fmt: skip
        yield LocalStack(settings, env, sandbox, procs, driver, client, db, work)


@dataclass(frozen=True)
class DayCoverage:
    """What a day left in the database, per symbol set."""

    symbols: frozenset[str]
    bars: frozenset[str]
    indicators: frozenset[str]
    recommended: frozenset[str]
    skipped: frozenset[str]  # with a recorded reason why not recommended
    stale: frozenset[str]  # served from cache, with a recorded reason

    @property
    def without_bar(self) -> set[str]:
        """Active symbols with neither the day's bar nor a stale mark: data lost silently."""
        return set(self.symbols - self.bars - self.stale)

    @property
    def unexplained(self) -> set[str]:
        """Active symbols with neither a recommendation nor a recorded reason."""
        return set(self.symbols - self.recommended - self.skipped)


def day_coverage(db: Database, day: date) -> DayCoverage:
    with db.session() as s:
        return DayCoverage(
            symbols=frozenset(s.scalars(select(Symbol.ticker).where(Symbol.active.is_(True)))),
            bars=frozenset(s.scalars(select(DailyBar.symbol).where(DailyBar.day == day))),
            indicators=frozenset(s.scalars(select(Indicator.symbol).where(Indicator.day == day))),
            recommended=frozenset(r.symbol for r in recommendations_for(s, day)),
            skipped=frozenset(s.scalars(select(DataQuality.scope).where(DataQuality.day == day,
                                                                        DataQuality.check == "not_recommended"))),
            stale=frozenset(s.scalars(select(StaleMark.symbol).where(StaleMark.day == day))),
        )  # fmt: skip
