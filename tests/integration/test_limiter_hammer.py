"""Eight processes hammer one quota on the real private Redis, with true and with skewed clocks.

Each process records the Redis-clock instant of every grant (``Grant.at``) until it is granted a slot
after a common end instant, so demand never lapses inside the measured span. A brute-force check over all
grants finds no window exceeded, and the grants must reach 98 % of the most the policy allows over the
same span (the earliest-possible schedule, computed independently here without the guard).
Processes run with their wall clocks shifted by +60 s / -60 s through libfaketime's LD_PRELOAD library.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from ratelimits import Limiter, parse_policy
from tests.conftest import require

POLICY = "20/second, 150/10 seconds, 100000/day@America/New_York"
ROLLING = [(20, 1.0), (150, 10.0)]
WORKERS = 8
SECONDS = 21.0  # the measured span: two 10-s windows and the start of a third


def libfaketime() -> Path | None:
    try:
        import libfaketime as package
    except ImportError:
        return None
    path = Path(package.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    return path if path.exists() else None


def _hammer(url: str, run: str) -> None:
    """One worker process: wait for the start signal, then acquire in a loop until granted a slot after the
    common end instant (Redis clock), so that demand never lapses before the end; report the grants."""
    client = redis.Redis.from_url(url)
    limiter = Limiter(client)
    policy = parse_policy(POLICY)
    redis_now = client.time()
    skew = time.time() - (redis_now[0] + redis_now[1] / 1e6)
    client.rpush(f"{run}:ready", os.getpid())
    go = client.blpop([f"{run}:go"], timeout=120)
    if go is None:
        return
    end = float(go[1])
    grants = []
    while (at := limiter.acquire("hammered", policy, max_wait=30).at) <= end:
        grants.append(at)
    client.rpush(f"{run}:done", json.dumps({"skew": skew, "grants": grants}))
    client.close()


@contextmanager
def environment(values: dict[str, str]):
    """Set environment variables for the processes started inside (spawn passes the environment on)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_hammer(url: str, skews: list[str | None]) -> list[dict]:
    """Start one process per entry of ``skews`` (a FAKETIME offset such as "+60s", or None)."""
    client = redis.Redis.from_url(url)
    run = f"hammer:{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    procs = []
    try:
        for skew in skews:
            # Only the wall clock is shifted: with a faked monotonic clock Python's sleep never returns.
            env = {"LD_PRELOAD": str(libfaketime()), "FAKETIME": skew, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
            env = env if skew else {}
            with environment(env):
                proc = ctx.Process(target=_hammer, args=(url, run), daemon=True)
                proc.start()
            procs.append(proc)
        deadline = time.monotonic() + 120
        while client.llen(f"{run}:ready") < len(skews):
            assert time.monotonic() < deadline, "hammer processes did not start"
            assert all(p.is_alive() for p in procs), "a hammer process died while starting"
            time.sleep(0.05)
        seconds, micros = client.time()
        client.rpush(f"{run}:go", *[f"{seconds + micros / 1e6 + SECONDS:.6f}"] * len(skews))
        for proc in procs:
            proc.join(max(1.0, deadline + SECONDS + 60 - time.monotonic()))
        reports = [json.loads(r) for r in client.lrange(f"{run}:done", 0, -1)]
        assert len(reports) == len(skews), f"{len(skews) - len(reports)} hammer processes did not report"
        return reports
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        client.close()


def exceeded(grants: list[float], limit: int, seconds: float) -> list[tuple[float, int]]:
    """Every grant that starts a closed interval of ``seconds`` holding more than ``limit`` grants."""
    grants = sorted(grants)
    bad, j = [], 0
    for i, start in enumerate(grants):
        j = max(j, i)
        while j + 1 < len(grants) and grants[j + 1] <= start + seconds:
            j += 1
        if j - i + 1 > limit:
            bad.append((start, j - i + 1))
    return bad


def most_allowed(windows: list[tuple[int, float]], span: float) -> int:
    """The most grants any schedule fits in a closed interval of ``span`` seconds: the earliest-possible
    schedule (each grant as soon as every window admits it; greedy is optimal for sliding windows)."""
    times: list[float] = []
    while True:
        t = 0.0
        for limit, seconds in windows:
            if len(times) >= limit:
                t = max(t, times[-limit] + seconds + 1e-9)
        if t > span:
            return len(times)
        times.append(t)


def test_checkers_are_not_vacuous():
    assert exceeded([0.0, 0.5, 1.0], 2, 1.0) == [(0.0, 3)]
    assert exceeded([0.0, 0.5, 1.01], 2, 1.0) == []
    assert most_allowed([(2, 1.0)], 1.0) == 2
    assert most_allowed([(2, 1.0)], 1.01) == 4
    assert most_allowed(ROLLING, 10.0) == 150
    assert most_allowed(ROLLING, 10.01) == 170


def assert_exact_and_busy(reports: list[dict]) -> tuple[int, float]:
    grants = sorted(g for r in reports for g in r["grants"])
    assert all(r["grants"] for r in reports), "a process never got a grant"
    for limit, seconds in ROLLING:
        assert exceeded(grants, limit, seconds) == [], f"{limit}/{seconds:g} s exceeded"
    span = grants[-1] - grants[0]
    allowed = most_allowed(ROLLING, span)
    utilisation = len(grants) / allowed
    assert span >= SECONDS - 10
    print(f"hammer: {len(grants)} grants of {allowed} allowed in {span:.2f} s ({utilisation:.1%})")
    assert utilisation >= 0.98, f"{len(grants)} grants of {allowed} allowed in {span:.2f} s"
    return len(grants), utilisation


@pytest.mark.slow
def test_eight_processes_share_one_quota_exactly(redis_url):
    reports = run_hammer(redis_url, [None] * WORKERS)
    assert all(abs(r["skew"]) < 5 for r in reports)
    assert_exact_and_busy(reports)


@pytest.mark.slow
def test_skewed_worker_clocks_do_not_matter(redis_url):
    require(
        libfaketime() is not None, "libfaketime's preload library is not installed (pip install libfaketime)"
    )
    skews = ["+60s", "-60s"] * (WORKERS // 2)
    reports = run_hammer(redis_url, skews)
    observed = sorted(round(r["skew"]) for r in reports)
    # the shift really reached the processes: half run a minute ahead of Redis, half a minute behind
    assert observed[: WORKERS // 2] == [-60] * (WORKERS // 2) and observed[WORKERS // 2 :] == [60] * (
        WORKERS // 2
    )
    assert not math.isnan(assert_exact_and_busy(reports)[1])
