"""The paced dispatcher's cost per call, Redis side (part 2 of bench/pacing.py, which imports it; also runs
alone):

    .venv/bin/python bench/dispatch_cost.py [--keys 1000] [--rounds 5]

submit + take (batches of 30) + holds + settle of a run of --keys keys, per call, against a no-op EVALSHA
round trip from the same client (alternating rounds; wall time per call and time inside Redis); and one
feeder pass with nothing due. Starts its own redis-server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from dispatch import Backlog, RunSpec  # noqa: E402
from ratelimits import Limiter, parse_policy  # noqa: E402
from stack.redis_server import RedisServer  # noqa: E402

TAKE_BATCH = 30  # calls per take: a Finnhub free burst (30/second)


def _redis_usec(client, names: tuple[str, ...]) -> float:
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{n}", {}).get("usec", 0) for n in names)


def redis_cost(keys: int, rounds: int) -> dict:
    """Per call: a run's submit + take + holds + settle, against a no-op EVALSHA round trip."""
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        backlog = Backlog(client, prefix="bench:dispatch")
        provider = "benchp"
        members = [backlog.flight_key(provider), backlog.line_key(provider), backlog.open_key]
        noop = client.register_script("return {'made', '0'}")
        names = [f"S{i:05d}" for i in range(keys)]
        top_level = ("evalsha", "zscore", "expire")  # what the client sends (scripts' inner commands aside)

        def dispatched(i: int) -> float:
            spec = RunSpec(
                f"bench-{i}",
                provider,
                "tasks.finnhub.fetch_quote",
                "symbol",
                "2026-01-02",
                kind="finnhub.refresh",
                common={"day": "2026-01-02"},
                track_ok=True,
            )
            start = time.perf_counter()
            backlog.submit(spec, names)
            while releases := backlog.take(provider, TAKE_BATCH):
                for release in releases:
                    if backlog.holds(provider, release):
                        backlog.settle(provider, release, "made", "ok")
            return (time.perf_counter() - start) / keys

        def floor() -> float:
            args = [
                f"bench-x|S00000|1000000000001|{uuid.uuid4().hex[:12]}.1",
                "made",
                "ok",
                "bench:dispatch:run:",
            ]
            start = time.perf_counter()
            for _ in range(keys):
                noop(keys=members, args=args)
            return (time.perf_counter() - start) / keys

        dispatched(-1), floor()  # warm up, load the scripts
        pairs = []
        for i in range(rounds):
            pairs.append((dispatched(i), floor()))
        client.config_resetstat()
        dispatched(rounds)
        inside = _redis_usec(client, top_level) / keys
        client.config_resetstat()
        floor()
        inside_floor = _redis_usec(client, ("evalsha",)) / keys
        ledger = backlog.ledger(f"bench-{rounds}")
        assert ledger is not None and ledger.done and not ledger.problems(), ledger
        feeder = feeder_pass(client)
        client.close()
    return {
        "dispatch_us": statistics.median(p[0] for p in pairs) * 1e6,
        "floor_us": statistics.median(p[1] for p in pairs) * 1e6,
        "ratio": statistics.median(p[0] / p[1] for p in pairs),
        "inside_us": inside,
        "inside_floor_us": inside_floor,
        "rounds": rounds,
        "keys": keys,
        **feeder,
    }


def feeder_pass(client, passes: int = 300) -> dict:
    """One pass of the real ``jobs.feeder.feed_provider`` over a provider with calls in line and nothing
    due (Finnhub's free quota booked full for the next minute: the usual pass on a free tier), in no-op
    EVALSHA round trips."""
    from jobs.feeder import feed_provider  # the real pass; it only reaches Redis through ``ctx``

    policy = parse_policy("30/second, 60/minute")
    guard = 0.25
    limiter = Limiter(client, guard=guard)
    backlog = Backlog(client)
    for _ in range(60):
        limiter.reserve("finnhub", policy, max_wait=5.0)
    spec = RunSpec(
        "bench-feeder",
        "finnhub",
        "tasks.finnhub.fetch_quote",
        "symbol",
        "2026-01-02",
        kind="finnhub.refresh",
        common={"day": "2026-01-02"},
    )
    backlog.submit(spec, [f"S{i:05d}" for i in range(500)])
    ctx = SimpleNamespace(
        redis=client,
        backlog=backlog,
        limiter=limiter,
        policy=lambda _p: policy,
        settings=SimpleNamespace(
            dispatch_lost_after_seconds=900.0, dispatch_horizon_seconds=20.0, quota_guard_seconds=guard
        ),
    )
    noop = client.register_script("return 0")
    for _ in range(20):
        assert feed_provider(ctx, "finnhub", ctx.backlog.open_runs())["released"] == 0
    start = time.perf_counter()
    for _ in range(passes):
        feed_provider(ctx, "finnhub", ctx.backlog.open_runs())
    pass_us = (time.perf_counter() - start) / passes * 1e6
    start = time.perf_counter()
    for _ in range(passes):
        noop(keys=[], args=[])
    noop_us = (time.perf_counter() - start) / passes * 1e6
    return {"pass_us": pass_us, "pass_noop_us": noop_us}


def print_redis_cost(r: dict) -> None:
    print()
    print(
        f"2. dispatcher cost per call, Redis side (runs of {r['keys']} keys, takes of {TAKE_BATCH}, "
        f"{r['rounds']} alternating rounds)"
    )
    print(f"  submit + take + holds + settle, per call       {r['dispatch_us']:8.1f} us wall")
    print(f"  no-op EVALSHA round trip (the floor)           {r['floor_us']:8.1f} us wall")
    print(f"  ratio (median of paired rounds)                {r['ratio']:8.2f}x")
    print(
        f"  inside Redis per call / per no-op              {r['inside_us']:8.1f} us / "
        f"{r['inside_floor_us']:.1f} us ({r['inside_us'] / r['inside_floor_us']:.1f}x)"
    )
    print(
        f"  one feeder pass, nothing due (real feed_provider) {r['pass_us']:6.0f} us = "
        f"{r['pass_us'] / r['pass_noop_us']:.1f} no-op round trips ({r['pass_noop_us']:.0f} us)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000, help="calls per run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()
    print_redis_cost(redis_cost(args.keys, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
