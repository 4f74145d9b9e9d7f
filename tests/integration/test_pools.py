"""Concurrency pools against the real private Redis: limits, expiry of killed holders, no leaks."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest
import redis

from ratelimits import LeaseLost, Pool, PoolTimeout


def test_at_most_size_leases(redis_client):
    pool = Pool(redis_client, "api_calls", size=2, lease_seconds=30)
    a, b = pool.acquire(1), pool.acquire(1)
    assert pool.in_use() == 2
    assert pool.try_acquire() is None
    with pytest.raises(PoolTimeout, match="api_calls"):
        pool.acquire(timeout=0.2)
    pool.release(a)
    c = pool.acquire(timeout=1)
    assert pool.in_use() == 2
    for lease in (b, c):
        lease.release()
    assert pool.in_use() == 0


def _hold_then_hang(url: str, ready) -> None:
    pool = Pool(redis.Redis.from_url(url), "api_calls", size=1, lease_seconds=2)
    pool.acquire(timeout=5)
    ready.set()
    time.sleep(60)


def test_a_killed_holders_slot_comes_back_within_its_lease(redis_client, redis_url):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_hold_then_hang, args=(redis_url, ready), daemon=True)
    child.start()
    try:
        assert ready.wait(30), "the child never got its lease"
        pool = Pool(redis_client, "api_calls", size=1, lease_seconds=2)
        assert pool.in_use() == 1 and pool.try_acquire() is None
        ((_, child_expiry),) = redis_client.zrange(pool.key, 0, -1, withscores=True)
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        started = time.monotonic()
        lease = pool.acquire(timeout=10)
        assert time.monotonic() - started < 5  # within the 2-s lease, generously
        assert lease.expires - pool.lease_seconds >= child_expiry - 1e-3  # not before the lease ran out
        lease.release()
    finally:
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
            child.join(5)


def test_no_slot_leaks_in_1000_cycles(redis_client):
    pool = Pool(redis_client, "database_tasks", size=3, lease_seconds=60)
    for i in range(1000):
        if i % 3 == 0:
            lease = pool.acquire(timeout=1)
            lease.release()
        elif i % 3 == 1:
            with pool.lease(timeout=1) as lease:
                lease.renew()
        else:
            with pytest.raises(RuntimeError), pool.lease(timeout=1):
                raise RuntimeError("the holder failed")
    assert pool.in_use() == 0
    assert redis_client.zcard(pool.key) == 0


def test_threads_never_exceed_the_size(redis_client):
    pool = Pool(redis_client, "compute_intensive", size=3, lease_seconds=30)
    lock, holders, peak, errors = threading.Lock(), [0], [0], []

    def work():
        try:
            for _ in range(40):
                with pool.lease(timeout=30):
                    with lock:
                        holders[0] += 1
                        peak[0] = max(peak[0], holders[0])
                    time.sleep(0.002)
                    with lock:
                        holders[0] -= 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert peak[0] == 3  # reached, never exceeded
    assert pool.in_use() == 0


def _expire_now(client, pool, lease) -> None:
    """Move ``lease``'s expiry to just before the Redis clock's now: the pool's own clock, advanced past
    the lease, instead of a test that sleeps through it and races a loaded machine."""
    seconds, micros = client.time()
    client.zadd(pool.key, {lease.token: seconds + micros / 1e6 - 0.001}, xx=True)


def test_renew_keeps_a_long_holder_and_an_unrenewed_lease_is_reclaimed(redis_client):
    pool = Pool(redis_client, "api_calls", size=1, lease_seconds=60)
    lease = pool.acquire(1)
    first_expiry = lease.expires
    assert lease.renew(120) >= first_expiry + 59  # now + 120 s, on the Redis clock
    assert pool.try_acquire() is None  # held
    _expire_now(redis_client, pool, lease)  # two minutes without a renewal, in effect
    other = pool.try_acquire()
    assert other is not None
    with pytest.raises(LeaseLost):
        lease.renew()
    other.release()
    other.release()  # idempotent
    with pytest.raises(LeaseLost):
        other.renew()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("api_calls", 0, 10), "size"),
        (("api_calls", 2.5, 10), "size"),
        (("api_calls", 2, 0), "lease_seconds"),
        (("api_calls", 2, float("inf")), "lease_seconds"),
        (("api {calls}", 2, 10), "pool name"),
    ],
)
def test_bad_pool_arguments(redis_client, args, match):
    with pytest.raises(ValueError, match=match):
        Pool(redis_client, *args)


def test_bad_timeout(redis_client):
    with pytest.raises(ValueError, match="timeout"):
        Pool(redis_client, "api_calls", 1).acquire(timeout=-1)


def test_a_task_of_a_pooled_queue_runs_only_under_a_lease_of_its_pool(ctx):
    """``compute`` tasks hold a ``compute_intensive`` lease (runtime/queues.py): with every slot taken by
    other holders, ``analyse_day`` waits; one slot given back, it runs and gives its own back."""
    from runtime import resources
    from tasks.analysis import analyse_day

    pool = ctx.pool("compute_intensive")
    held = [pool.acquire(timeout=1) for _ in range(ctx.settings.pools["compute_intensive"])]
    resources.install(ctx)
    done: dict = {}
    worker = threading.Thread(target=lambda: done.update(analyse_day("2026-11-25")))
    try:
        worker.start()
        worker.join(1.5)
        assert worker.is_alive() and not done  # waiting for a slot
        held.pop().release()
        worker.join(60)
        assert done == {"day": "2026-11-25", "symbols": 0, "indicators": 0, "quality": []}
        assert pool.in_use() == len(held)  # its own lease given back
    finally:
        resources.install(None)
        for lease in held:
            lease.release()
