"""Paced dispatch on the free tiers: time to finish against the quota floor; the dispatcher's cost per call.

    .venv/bin/python bench/pacing.py [--sessions 20] [--quotes 240] [--symbols 500] [--keys 1000]
                                     [--rounds 5] [--tasks 1000] [--no-path]

      --sessions  Polygon grouped-daily calls of the backfill run (free plan 5/minute)
      --quotes    Finnhub quotes of the sweep run (free plan 30/second, 60/minute)
      --symbols   the sandbox's universe (the quotes take the first --quotes of it)
      --keys      calls per run in the Redis-side cost measure; --rounds: alternating rounds of it
      --tasks     fetch tasks per round of the whole-path measure; --no-path skips that measure

Every part starts what it needs itself (redis-server, sandbox, real workers at the light concurrency of
stack.local.LIGHT_CONCURRENCY); about 4 minutes with the defaults. Prints, from one run:

1. pacing (sandbox profile ``free``, every plan ``free``): a Polygon backfill of --sessions grouped-daily
   calls and a Finnhub sweep of --quotes quotes, submitted together as two dispatcher runs
   (``dispatch.Backlog.submit``) and let out by the feeder (``tasks.dispatch.feed``) to real workers. From the
   sandbox's request log, per provider: first to last request as a ratio of the quota floor
   (``ratelimits.quota_floor``: the same calls at the quota's own pace from an idle quota, first to last;
   goal <= 1.05), submit to last request, throttled answers (must be 0), and the run's ledger.
2. the dispatcher's cost per call, Redis side (bench/dispatch_cost.py, which also runs alone): submit +
   take (batches of 30) + holds + settle of a run of --keys keys, per call, against a no-op EVALSHA round
   trip from the same client (alternating rounds; wall time per call and time inside Redis); and one
   feeder pass with nothing due.
3. the dispatcher's cost per call, whole path (sandbox ``unlimited``): --tasks ``tasks.finnhub.fetch_quote``
   tasks sent straight to the ``finnhub`` queue against the same tasks admitted as a run and released by
   the feeder (interleaved rounds), in tasks per second from the first send to the last request's arrival.

The load average (/proc/loadavg) is printed before and after: other work on the machine weighs on every
figure, least on the ratios measured inside one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


from dispatch_cost import print_redis_cost, redis_cost  # noqa: E402

import marketcal  # noqa: E402
from dispatch import Backlog, RunSpec  # noqa: E402
from ratelimits import Limiter, parse_policy, quota_floor  # noqa: E402
from stack.day import queue_depth  # noqa: E402
from stack.local import LIGHT_CONCURRENCY, local_stack  # noqa: E402
from storage import upsert_symbols  # noqa: E402

GOAL = 1.05


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def history_sessions(n: int) -> tuple[str, list[str]]:
    """(the day the runs are for, the ``n`` sessions before it, newest first): sessions the free Polygon
    plan serves now (the day after each session), as the bootstrap's history asks for them."""
    end = marketcal.previous_trading_day(marketcal.last_completed_session(datetime.now(UTC)))
    days = marketcal.trading_days(end - timedelta(days=2 * n + 14), end)[-n:]
    return end.isoformat(), [d.isoformat() for d in reversed(days)]


def seed_universe(local) -> list[str]:
    """The sandbox's active symbols, stored as the universe (its control plane: no provider call, no quota
    spent); sorted tickers."""
    listed = [u for u in local.sandbox.universe() if u.get("active", True)]
    rows = [
        {
            "ticker": u["symbol"],
            "name": u.get("name"),
            "exchange": u.get("exchange"),
            "type": u.get("type"),
            "tier": 4,
        }
        for u in listed
    ]
    with local.db.session() as s, s.begin():
        upsert_symbols(s, rows)
    return sorted(r["ticker"] for r in rows)


def warm_up(local, queues=("control", "polygon", "finnhub")) -> None:
    """One no-op task through each queue, so the workers are consuming before anything is timed."""
    app = local.driver.app
    sent = [app.signature("celery.accumulate", args=(0,), queue=q).apply_async() for q in queues]
    local.driver.wait_idle("warm-up", settle=0.2)
    for result in sent:
        app.backend.remove_pending_result(result)


def wait_quiet(local, timeout: float, poll: float = 0.05) -> float:
    """Seconds until nothing is queued, unacknowledged, in line or in flight (seen twice in a row)."""
    start, quiet = time.monotonic(), 0
    while quiet < 2:
        local.procs.check_alive()
        quiet = quiet + 1 if queue_depth(local.redis) == 0 else 0
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"still busy after {timeout:.0f} s")
        if quiet < 2:
            time.sleep(poll)
    return time.monotonic() - start


# -- 1. pacing against the quota floor -----------------------------------------------------------------------


def pacing(work: Path, sessions: int, quotes: int, symbols: int) -> list[dict]:
    day, days = history_sessions(sessions)
    with local_stack(
        work / "pacing", symbols=symbols, profile="free", concurrency=LIGHT_CONCURRENCY, say=lambda _: None
    ) as local:
        universe = seed_universe(local)
        if len(universe) < quotes:
            raise SystemExit(f"--quotes {quotes} needs a sandbox of at least that many symbols (--symbols)")
        warm_up(local)
        settings, backlog = local.settings, Backlog(local.redis)
        guard = settings.quota_guard_seconds
        tag = uuid.uuid4().hex[:8]
        backfill = RunSpec(
            f"backfill:{day}:bench{tag}",
            "polygon",
            "tasks.polygon.fetch_grouped_daily",
            "day",
            day,
            kind="polygon.backfill",
            priority=2,
        )
        sweep = RunSpec(
            f"finnhub-refresh:{day}:bench{tag}",
            "finnhub",
            "tasks.finnhub.fetch_quote",
            "symbol",
            day,
            kind="finnhub.refresh",
            common={"day": day},
            priority=1,
            deadline=backlog.now() + 3000,
            on_expiry="carry",
            carry_to="tickerbeat:carry:finnhub:refresh",
            track_ok=True,
        )
        runs = [(backfill, days), (sweep, universe[:quotes])]
        floors = {
            s.provider: quota_floor(parse_policy(settings.providers[s.provider].quota), len(k), guard)
            for s, k in runs
        }
        print(
            f"pacing: sandbox 'free', {symbols} symbols; backfill {len(days)} sessions "
            f"({days[-1]}..{days[0]}), sweep {quotes} quotes; "
            f"horizon {settings.dispatch_horizon_seconds:g} s, guard {guard:g} s, "
            f"max wait {settings.quota_max_wait_seconds:g} s"
        )
        submitted = backlog.now()  # the Redis clock: this machine's clock, as the sandbox's log
        for spec, keys in runs:
            backlog.submit(spec, keys)
        local.driver.app.send_task("tasks.dispatch.feed")  # what jobs.runs.submit does after admitting
        deadline = time.monotonic() + 2 * max(floors.values()) + 240
        last_said = time.monotonic()
        while True:
            local.procs.check_alive()
            ledgers = {s.provider: backlog.ledger(s.id) for s, _ in runs}
            if all(led.done for led in ledgers.values()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not done: {[led.as_record() for led in ledgers.values()]}")
            if time.monotonic() - last_said > 30:
                last_said = time.monotonic()
                made = ", ".join(f"{p} {led.made}/{led.admitted}" for p, led in ledgers.items())
                print(f"  {time.time() - submitted:5.0f} s: made {made} (load {loadavg()})")
            time.sleep(0.5)
        wait_quiet(local, 120)
        log = local.sandbox.requests(since=submitted - 1.0)
        limiter = Limiter(local.redis, guard=guard)
        out = []
        for spec, keys in runs:
            policy = parse_policy(settings.providers[spec.provider].quota)
            arrivals = sorted(r["arrival"] for r in log if r["provider"] == spec.provider)
            throttled = sum(1 for r in log if r["provider"] == spec.provider and r["outcome"] == "throttled")
            ledger = ledgers[spec.provider]
            stats = limiter.stats(spec.provider, policy)
            first_last = arrivals[-1] - arrivals[0] if arrivals else 0.0
            out.append(
                {
                    "provider": spec.provider,
                    "policy": str(policy),
                    "calls": len(arrivals),
                    "keys": len(keys),
                    "floor": floors[spec.provider],
                    "first_last": first_last,
                    "to_first": arrivals[0] - submitted if arrivals else None,
                    "wall": arrivals[-1] - submitted if arrivals else None,
                    "throttled": throttled,
                    "made": ledger.made,
                    "deferred": ledger.deferred,
                    "reclaimed": ledger.reclaimed,
                    "problems": ledger.problems(),
                    "waited": stats.waited,
                    "wait_seconds": stats.wait_seconds,
                }
            )
        totals = local.sandbox.stats()["totals"]
        out.append({"sandbox_calls": totals["calls"], "sandbox_throttled": totals["throttled"]})
    return out


def print_pacing(rows: list[dict]) -> None:
    *rows, totals = rows
    print()
    print("1. pacing on the free tiers (sandbox 'free'; first to last request against the quota floor)")
    head = (
        f"  {'provider':9} {'policy':22} {'calls':>5} {'floor s':>8} {'first-last s':>12} {'ratio':>6} "
        f"{'submit-last s':>13} {'/floor':>6} {'429s':>4}"
    )
    print(head)
    for r in rows:
        ratio = r["first_last"] / r["floor"] if r["floor"] else float("nan")
        wall = r["wall"] / r["floor"] if r["floor"] else float("nan")
        print(
            f"  {r['provider']:9} {r['policy']:22} {r['calls']:5d} {r['floor']:8.2f} {r['first_last']:12.2f} "
            f"{ratio:6.3f} {r['wall']:13.2f} {wall:6.3f} {r['throttled']:4d}"
        )
    for r in rows:
        mean_wait = r["wait_seconds"] / r["waited"] if r["waited"] else 0.0
        verdict = "ok" if r["first_last"] <= GOAL * r["floor"] else f"above the {GOAL:g} goal"
        print(
            f"  {r['provider']}: first request {r['to_first']:.2f} s after submit; ledger made {r['made']}/"
            f"{r['keys']}, deferrals {r['deferred']}, reclaimed {r['reclaimed']}, "
            f"{'adds up' if not r['problems'] else r['problems']}; {r['waited']} grants waited for their "
            f"slot (mean {mean_wait:.1f} s); ratio {verdict}"
        )
    print(f"  sandbox: {totals['sandbox_calls']} calls, {totals['sandbox_throttled']} throttled")


# -- 3. whole path: fetch tasks with and without the dispatcher ----------------------------------------------


def whole_path(work: Path, tasks: int, rounds: int = 3) -> dict:
    with local_stack(
        work / "path",
        symbols=max(tasks, 500),
        profile="unlimited",
        concurrency=LIGHT_CONCURRENCY,
        say=lambda _: None,
    ) as local:
        universe = seed_universe(local)[:tasks]
        warm_up(local)
        app, backlog = local.driver.app, Backlog(local.redis)
        day = marketcal.last_completed_session(datetime.now(UTC)).isoformat()

        def rate(start: float) -> float:
            """Tasks per second from ``start`` (epoch s) to the last request's arrival at the sandbox: the
            dispatched side's feeder re-arms once more with a 4-s countdown (an ETA message the worker holds
            unacknowledged), which a drained-queue test would count as work."""
            arrivals = [
                r["arrival"] for r in local.sandbox.requests(since=start) if r["provider"] == "finnhub"
            ]
            assert len(arrivals) == len(universe), (len(arrivals), len(universe))
            return len(universe) / (max(arrivals) - start)

        def direct() -> float:
            start = time.time()
            with app.producer_or_acquire() as producer:
                sent = [
                    app.send_task(
                        "tasks.finnhub.fetch_quote", kwargs={"symbol": s, "day": day}, producer=producer
                    )
                    for s in universe
                ]
            wait_quiet(local, 600)
            for result in sent:
                app.backend.remove_pending_result(result)
            return rate(start)

        def dispatched() -> float:
            spec = RunSpec(
                f"finnhub-refresh:{day}:bench{uuid.uuid4().hex[:8]}",
                "finnhub",
                "tasks.finnhub.fetch_quote",
                "symbol",
                day,
                kind="finnhub.refresh",
                common={"day": day},
                track_ok=True,
            )
            start = time.time()
            backlog.submit(spec, universe)
            app.send_task("tasks.dispatch.feed")
            wait_quiet(local, 600)
            ledger = backlog.ledger(spec.id)
            assert ledger.done and ledger.made == len(universe) and not ledger.problems(), ledger
            return rate(start)

        pairs = [(direct(), dispatched()) for _ in range(rounds)]
        throttled = local.sandbox.stats()["totals"]["throttled"]
    return {"pairs": pairs, "tasks": len(universe), "throttled": throttled}


def print_whole_path(r: dict) -> None:
    print()
    print(
        f"3. dispatcher cost per call, whole path (sandbox 'unlimited', {r['tasks']} "
        f"tasks.finnhub.fetch_quote per round, finnhub worker -c {LIGHT_CONCURRENCY['finnhub']})"
    )
    for i, (d, p) in enumerate(r["pairs"], 1):
        print(
            f"  round {i}: sent straight {d:6.1f} tasks/s, through the dispatcher {p:6.1f} tasks/s "
            f"({d / p:.2f}x)"
        )
    best_d, best_p = max(p[0] for p in r["pairs"]), max(p[1] for p in r["pairs"])
    median = statistics.median(d / p for d, p in r["pairs"])
    print(
        f"  time per task through the dispatcher / sent straight: {median:.2f}x (median of paired rounds), "
        f"{best_d / best_p:.2f}x (best of each: {best_d:.1f} vs {best_p:.1f} tasks/s); "
        f"throttled {r['throttled']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="Polygon grouped-daily calls (backfill run)")
    parser.add_argument("--quotes", type=int, default=240, help="Finnhub quotes (sweep run)")
    parser.add_argument("--symbols", type=int, default=500, help="the sandbox's universe in the pacing part")
    parser.add_argument("--keys", type=int, default=1000, help="calls per run in the Redis-side measure")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the Redis-side measure")
    parser.add_argument(
        "--tasks", type=int, default=1000, help="fetch tasks per round of the whole-path measure"
    )
    parser.add_argument("--no-path", action="store_true", help="skip the whole-path measure")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines as they come, also into a file
    began, load_before = time.monotonic(), loadavg()
    print(
        f"bench/pacing.py on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load average {load_before}"
    )
    work = Path(tempfile.mkdtemp(prefix="tickerbeat-bench-pacing-"))
    paced = pacing(work, args.sessions, args.quotes, args.symbols)
    load_paced = loadavg()
    cost = redis_cost(args.keys, args.rounds)
    path = None if args.no_path else whole_path(work, args.tasks)
    print_pacing(paced)
    print_redis_cost(cost)
    if path is not None:
        print_whole_path(path)
    print()
    shutil.rmtree(work, ignore_errors=True)  # kept on failure: the workers' logs are under it
    print(
        f"load average: {load_before} before, {load_paced} after pacing, {loadavg()} at the end; "
        f"{time.monotonic() - began:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
