"""Fail closed: with Redis stopped mid-run, every decision is QuotaUnavailable and nothing is granted."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from ratelimits import Grant, Limiter, Pool, QuotaUnavailable, QuotaWait, parse_policy
from stack.redis_server import RedisServer, RedisServerError
from tests.conftest import require


@pytest.fixture
def own_server():
    """A server of this test's own, so stopping it leaves the session's server alone."""
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    yield server
    server.stop()


def test_redis_stopped_mid_run(own_server):
    client = redis.Redis.from_url(own_server.url, socket_timeout=2, socket_connect_timeout=2)
    limiter = Limiter(client)
    policy = parse_policy("200/second")
    stopped = threading.Event()
    outcomes: list[tuple[bool, object]] = []  # (after the stop was complete, outcome)
    lock = threading.Lock()

    def hammer():
        for _ in range(400):
            after = stopped.is_set()
            try:
                outcome: object = limiter.acquire("prov", policy, max_wait=5)
            except (QuotaUnavailable, QuotaWait) as exc:
                outcome = exc
            with lock:
                outcomes.append((after, outcome))
            if after and isinstance(outcome, QuotaUnavailable):
                return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if sum(isinstance(o, Grant) for _, o in outcomes) >= 20:
                break
        time.sleep(0.005)
    else:
        pytest.fail(f"no grants before the stop: {outcomes[:3]}")
    own_server.stop()
    stopped.set()
    for t in threads:
        t.join(30)
    after = [o for was_after, o in outcomes if was_after]
    assert after, "no decision was attempted after the stop"
    assert all(isinstance(o, QuotaUnavailable) for o in after), after
    assert "no provider call may be made" in str(after[0])

    pool = Pool(client, "api_calls", size=5)
    for call in (
        lambda: limiter.reserve("prov", policy),
        lambda: limiter.stats("prov", policy),
        lambda: limiter.blocked_until("prov"),
        lambda: limiter.report_throttle("prov", policy),
        lambda: limiter.block("prov", 5),
        lambda: limiter.known_providers(),
        lambda: pool.acquire(timeout=1),
        lambda: pool.in_use(),
    ):
        with pytest.raises(QuotaUnavailable):
            call()

    # Back up (empty, without the scripts): decisions resume, the scripts are loaded again.
    own_server.start()
    assert limiter.reserve("prov", policy).wait == 0
    with pool.lease(timeout=1):
        assert pool.in_use() == 1
    client.close()
