"""A whole tickerbeat stack for end-to-end tests: a private Redis, the sandbox, a private database
(SQLite, or a scratch schema on ``TEST_DATABASE_URL``), and real Celery workers for every queue.

The stack is module-scoped and prepared once (universe, two years of history, tiers) up to
``HISTORY_END``; each test then drives its own later session, so tests neither share a day nor
depend on their order.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

import marketcal
from sandbox.testing import SandboxError
from stack.day import phase_instant
from stack.local import LIGHT_CONCURRENCY, local_stack
from stack.redis_server import RedisServerError
from tests.conftest import require

SYMBOLS = 200
# Sessions the tests drive, newest last; history is prepared up to the session before the first.
LAST = date(2026, 11, 20)
DAYS = marketcal.trading_days(date(2026, 11, 10), LAST)[-4:]
HISTORY_END = marketcal.previous_trading_day(DAYS[0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack, prepared up to ``HISTORY_END``; ``stack.driver.run_day(day)`` drives a session."""
    work = tmp_path_factory.mktemp("stack")
    try:
        with local_stack(
            work, symbols=SYMBOLS, sandbox_now=phase_instant(DAYS[0], "08:00"), profile="demo",
            database_url=os.environ.get("TEST_DATABASE_URL"), private_schema=True, concurrency=LIGHT_CONCURRENCY,
            extra_env={"TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "60"}, loglevel="INFO", timeout=300,
            say=lambda _: None,
        ) as local:  # fmt: skip
            local.driver.prepare(DAYS[0])
            yield local
    except (RedisServerError, SandboxError) as exc:
        require(False, f"the local stack could not start: {exc}")
