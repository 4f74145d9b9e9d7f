"""Shared test harness: a private redis-server per session, the test database, CI-aware skips.

Tests that need a service skip locally when it is missing and fail when ``CI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from stack.redis_server import RedisServer, RedisServerError

IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, reason: str) -> None:
    """Skip locally when ``condition`` is false; fail under CI, where every service must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server on a free port, for the whole session."""
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The private server's URL, flushed before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """PostgreSQL from ``TEST_DATABASE_URL`` when set (CI), else a fresh SQLite file."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A migrated private database, once on a SQLite file and once on PostgreSQL (``TEST_DATABASE_URL``,
    in a scratch schema dropped afterwards)."""
    from storage.testing import migrated_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'storage.db'}"
    else:
        url = request.getfixturevalue("database_url")
        require(url.startswith("postgresql"), "PostgreSQL storage tests need TEST_DATABASE_URL")
    with migrated_database(url) as database:
        yield database


@pytest.fixture
def ctx(tmp_path: Path, redis_url, database_url):
    """The resources a job is given (``runtime.resources.Resources``), on the test Redis and a migrated
    private database, data and reports under ``tmp_path``. A Celery app on the same Redis is the current
    app, so what a job sends (the feeder's wake-up, a run's callback) lands as a message in that Redis,
    where the test can read it; no worker runs."""
    from runtime.resources import Resources
    from runtime.settings import Settings
    from storage.migrate import upgrade
    from storage.testing import scratch_database
    from worker.app import make_app

    with scratch_database(database_url) as url:
        upgrade(url)
        settings = Settings.from_env({"REDIS_URL": redis_url, "DATABASE_URL": url,
                                      "TICKERBEAT_DATA_DIR": str(tmp_path / "data"),
                                      "TICKERBEAT_REPORTS_DIR": str(tmp_path / "reports")})  # fmt: skip
        app = make_app(settings)
        app.set_current()
        built = Resources(settings)
        yield built
        built.close()
        app.close()
