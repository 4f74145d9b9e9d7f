"""Benchmark of the quota engine, on a private redis-server it starts itself.

    .venv/bin/python bench/limiter.py [--seconds 3] [--hammer-seconds 21] [--no-hammer]

Prints, from one run:
1. decisions/second of ``Limiter.acquire`` from one process under a policy large enough that nobody waits,
   against a no-op EVALSHA carrying the same keys and arguments from the same process (the physical floor
   of one script round trip), and their ratio (goal >= 50 %);
2. eight spawned processes sharing ``20/second, 150/10 seconds``: grants, windows exceeded (brute force
   over every grant), and utilisation against the earliest-possible schedule over the same span.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from ratelimits import Limiter, parse_policy  # noqa: E402
from stack.redis_server import RedisServer  # noqa: E402

POLICIES = ["100000/second", "100000/second, 1000000/10 seconds, 100000000/day@America/New_York"]
HAMMER_POLICY = "20/second, 150/10 seconds"
SLICE = 0.25  # seconds per measurement slice
HAMMER_WINDOWS = [(20, 1.0), (150, 10.0)]


def rate(call, seconds: float) -> float:
    """Calls per second of ``call`` over about ``seconds``."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            call()
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def single_process(url: str, seconds: float) -> None:
    """``acquire`` against the no-op floor, in short alternating slices so both see the same machine load."""
    client = redis.Redis.from_url(url)
    for text in POLICIES:
        policy = parse_policy(text)
        limiter = Limiter(client)
        provider = f"bench{uuid.uuid4().hex[:8]}"
        # The floor: a script that does nothing, sent the same keys and arguments as a real decision.
        noop = client.register_script("return {'1', '0', '0'}")
        plan = limiter._plan(provider, policy)
        keys = plan.keys
        args = ["1", "30.0", "0.02", "", "0", plan.count]
        args += [
            x
            for limit, spec in plan.windows
            for x in (limit, spec if isinstance(spec, str) else "c:" + ",".join(["1781049600"] * 4))
        ]

        def acquire(limiter=limiter, provider=provider, policy=policy):
            limiter.acquire(provider, policy)

        def floor(noop=noop, keys=keys, args=args):
            noop(keys=keys, args=args)

        rate(acquire, 0.3)  # warm up (and load the scripts)
        rate(floor, 0.3)
        pairs = [
            (rate(acquire, SLICE), rate(floor, SLICE)) for _ in range(max(1, round(seconds / SLICE / 2)))
        ]
        a = statistics.median(p[0] for p in pairs)
        n = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[0] / p[1] for p in pairs)
        stats = limiter.stats(provider, policy)
        assert stats.waited == 0 and stats.refused == 0, "the benchmark policy made someone wait"
        print(f"policy '{text}' ({len(pairs)} alternating slices of {SLICE:g} s each):")
        print(f"  acquire        {a:10.0f} decisions/s (median)")
        print(f"  no-op EVALSHA  {n:10.0f} calls/s (median)")
        print(f"  ratio          {ratio:10.1%}  (median of paired slices; goal >= 50 %)")
        client.config_resetstat()
        for _ in range(2000):
            acquire()
        acquire_us = client.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
        client.config_resetstat()
        for _ in range(2000):
            floor()
        floor_us = client.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
        print(f"  inside Redis   {acquire_us:10.1f} us per decision, {floor_us:.1f} us per no-op")
    client.close()


def _hammer(url: str, run: str) -> None:
    client = redis.Redis.from_url(url)
    limiter = Limiter(client)
    policy = parse_policy(HAMMER_POLICY)
    go = client.blpop([f"{run}:go"], timeout=120)
    if go is None:
        return
    end, grants = float(go[1]), []
    while (at := limiter.acquire("hammered", policy, max_wait=30).at) <= end:
        grants.append(at)
    client.rpush(f"{run}:done", json.dumps(grants))


def exceeded(grants: list[float], limit: int, seconds: float) -> int:
    """Closed intervals of ``seconds`` that start at a grant and hold more than ``limit`` grants."""
    bad, j = 0, 0
    for i, start in enumerate(grants):
        j = max(j, i)
        while j + 1 < len(grants) and grants[j + 1] <= start + seconds:
            j += 1
        bad += j - i + 1 > limit
    return bad


def most_allowed(span: float) -> int:
    """Most grants any schedule fits in ``span`` seconds: the earliest-possible (greedy) schedule."""
    times: list[float] = []
    while True:
        t = max([0.0] + [times[-n] + w + 1e-9 for n, w in HAMMER_WINDOWS if len(times) >= n])
        if t > span:
            return len(times)
        times.append(t)


def hammer(url: str, seconds: float, workers: int = 8) -> None:
    client = redis.Redis.from_url(url)
    run = f"hammer:{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(url, run), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let them import and block on the start signal
    s, us = client.time()
    client.rpush(f"{run}:go", *[f"{s + us / 1e6 + seconds:.6f}"] * workers)
    for p in procs:
        p.join(seconds + 60)
    grants = sorted(g for r in client.lrange(f"{run}:done", 0, -1) for g in json.loads(r))
    span = grants[-1] - grants[0]
    allowed = most_allowed(span)
    violations = sum(exceeded(grants, n, w) for n, w in HAMMER_WINDOWS)
    print(f"{workers} processes, '{HAMMER_POLICY}', {span:.2f} s of saturated demand:")
    print(f"  grants {len(grants)} of {allowed} allowed -> utilisation {len(grants) / allowed:.1%}")
    print(f"  windows exceeded: {violations}")
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="single-process measuring time per policy"
    )
    parser.add_argument("--hammer-seconds", type=float, default=21.0, help="span of the 8-process run")
    parser.add_argument("--no-hammer", action="store_true", help="skip the 8-process run")
    opts = parser.parse_args()
    with RedisServer() as server:
        single_process(server.url, opts.seconds)
        if not opts.no_hammer:
            hammer(server.url, opts.hammer_seconds)


if __name__ == "__main__":
    main()
