"""RedBeat failover with real beat processes: a standby beat sends nothing while the active one holds
the lock, and takes over within a minute when the active one is killed."""

from __future__ import annotations

import json
import signal
import time

import pytest
import redis
from celery.schedules import schedule
from redbeat import RedBeatSchedulerEntry

from runtime.settings import Settings
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet, beat_command
from tests.conftest import require
from worker.app import make_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

QUEUE = "maintenance"  # nothing consumes it in this test: every message beat sends stays countable


def _ticks(client: redis.Redis) -> int:
    """Messages of the test entry waiting in the queue."""
    return sum(
        1 for raw in client.lrange(QUEUE, 0, -1) if json.loads(raw)["headers"]["task"] == "celery.accumulate"
    )


def _wait_for(predicate, timeout: float, step: float = 0.2) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def _rate(client: redis.Redis, seconds: float) -> float:
    before, t0 = _ticks(client), time.monotonic()
    time.sleep(seconds)
    return (_ticks(client) - before) / (time.monotonic() - t0)


def test_standby_beat_never_double_sends_and_takes_over(tmp_path):
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no redis-server: {exc}")
    env = {"REDIS_URL": server.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'beat.db'}"}
    settings = Settings.from_env(env)
    app = make_app(settings)
    client = redis.Redis.from_url(server.url)
    procs = ProcessSet(env, tmp_path / "logs", cwd=tmp_path)
    try:
        # A dynamic RedBeat entry firing every second, next to the static schedule beat installs itself.
        RedBeatSchedulerEntry("test-tick", "celery.accumulate", schedule(1.0), args=[1],
                              options={"queue": QUEUE}, app=app).save()  # fmt: skip
        first = procs.start("beat-a", beat_command())
        _wait_for(lambda: _ticks(client) >= 2, 60)
        procs.start("beat-b", beat_command())
        time.sleep(3)  # the standby is up and trying for the lock
        assert _rate(client, 8) < 1.5  # one beat sends (about 1/s), never both (about 2/s)

        first.send_signal(signal.SIGKILL)
        first.wait()
        sent = _ticks(client)
        took = _wait_for(lambda: _ticks(client) > sent + 1, 90)
        assert took < 60, f"standby took {took:.0f} s to take over"
        assert _rate(client, 6) < 1.5
        log = (tmp_path / "logs" / "beat-b.log").read_text()
        assert "Acquired lock" in log
    finally:
        procs.stop()
        server.stop()
