"""A whole tickerbeat stack for end-to-end tests: a private Redis, the sandbox, a private database
(SQLite, or a scratch schema on ``TEST_DATABASE_URL``), and real Celery workers for every queue.

The stack is module-scoped and prepared once (universe, two years of history, tiers) up to
``HISTORY_END``; each test then drives its own later session, so tests neither share a day nor
depend on their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import redis

import marketcal
from sandbox.testing import SandboxError, SandboxProcess
from stack.day import DayDriver, phase_instant
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet
from storage import Database
from storage.migrate import upgrade
from storage.testing import scratch_database
from tests.conftest import require
from worker.app import make_app
from worker.settings import Settings

SYMBOLS = 200
# Sessions the tests drive, newest last; history is prepared up to the session before the first.
LAST = date(2026, 11, 20)
DAYS = marketcal.trading_days(date(2026, 11, 10), LAST)[-4:]
HISTORY_END = marketcal.previous_trading_day(DAYS[0])
# Lower concurrency than production: the suite runs on 2 cores next to other tests.
CONCURRENCY = {
    "finnhub": 2,
    "polygon": 2,
    "compute": 1,
    "control": 1,
    "maintenance": 1,
    "yahoo": 1,
    "alphavantage": 1,
}


@dataclass
class Stack:
    settings: Settings
    sandbox: SandboxProcess
    procs: ProcessSet
    driver: DayDriver
    redis: redis.Redis
    db: Database

    def run_day(self, day: date) -> dict:
        return self.driver.run_day(day)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    import os

    work = tmp_path_factory.mktemp("stack")
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no redis-server: {exc}")
    try:
        sandbox = SandboxProcess(
            profile="demo", symbols=SYMBOLS, now=phase_instant(HISTORY_END, "08:00")
        ).start()
    except SandboxError as exc:
        server.stop()
        require(False, f"sandbox did not start: {exc}")
    base = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{work / 'tickerbeat.db'}"
    with scratch_database(base) as url:
        env = {"REDIS_URL": server.url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(work),
               "TICKERBEAT_REPORTS_DIR": str(work / "reports"), "TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "60",
               **sandbox.env(api_key="test-key"),
               **{f"{p}_PLAN": "demo" for p in ("FINNHUB", "POLYGON", "ALPHAVANTAGE", "YAHOO")}}  # fmt: skip
        settings = Settings.from_env(env)
        upgrade(url)
        procs = ProcessSet(env, work / "logs")
        procs.start_workers(concurrency=CONCURRENCY, loglevel="INFO")
        client = redis.Redis.from_url(server.url)
        driver = DayDriver(
            make_app(settings),
            client,
            sandbox=sandbox,
            timeout=300,
            check=procs.check_alive,
            say=lambda _: None,
        )
        db = Database(url)
        try:
            driver.prepare(DAYS[0])
            yield Stack(settings, sandbox, procs, driver, client, db)
        finally:
            db.dispose()
            procs.stop()
            sandbox.stop()
            server.stop()
