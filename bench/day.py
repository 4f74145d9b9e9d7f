"""The full day for 6,500 symbols against the ``unlimited`` sandbox, timed per phase.

History (two years, grouped daily) is loaded first and timed separately. In the same run, a plain
Celery no-op task (``celery.accumulate``, built into every worker) is pushed through the ``finnhub``
worker and compared with the real fetch task on the same worker: per-task overhead ratio.

    .venv/bin/python bench/day.py [--symbols 6500] [--tasks 2000]

Goals (docs/benchmarks.md): whole day (ingest + analysis + predictions + recommendations) <= 60 s
wall on 2 cores; per-fetch-task overhead <= 2x the no-op task's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import marketcal  # noqa: E402
from stack.day import DAY_PHASES, phase_instant  # noqa: E402
from stack.local import local_stack  # noqa: E402
from storage import active_symbols  # noqa: E402


def throughput(app, driver, signatures, label: str) -> float:
    """Tasks per second for ``signatures``: all sent at once (results ignored), timed until the workers
    have drained the queue and acknowledged every message."""
    start = time.monotonic()
    with app.producer_or_acquire() as producer:
        sent = [sig.apply_async(ignore_result=True, producer=producer) for sig in signatures]
    driver.wait_idle(label, settle=0.1)
    rate = len(signatures) / (time.monotonic() - start)
    for result in sent:
        app.backend.remove_pending_result(result)  # while Redis still answers, not at interpreter exit
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=6500)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per throughput round")
    args = parser.parse_args()
    day = marketcal.last_completed_session(datetime.now(UTC) - timedelta(hours=1))
    work = Path(tempfile.mkdtemp(prefix="tickerbeat-bench-"))
    with local_stack(work, symbols=args.symbols, sandbox_now=phase_instant(day, "08:00"), profile="unlimited",
                     timeout=1200, say=lambda _: None) as local:  # fmt: skip
        driver, app = local.driver, local.driver.app
        t = time.monotonic()
        driver.prepare(day)
        backfill = time.monotonic() - t
        with local.db.session() as s:
            symbols = active_symbols(s)[: args.tasks]
        noop = [app.signature("celery.accumulate", args=(i,), queue="finnhub") for i in range(len(symbols))]
        fetch = [app.signature("tasks.finnhub.fetch_quote", kwargs={"symbol": s, "day": day.isoformat()})
                 for s in symbols]  # fmt: skip
        rates = {"noop": [], "fetch": []}
        for _ in range(2):  # interleaved, so the machine's other load weighs on both alike
            rates["noop"].append(throughput(app, driver, noop, "noop"))
            rates["fetch"].append(throughput(app, driver, fetch, "fetch"))
        noop_rate, fetch_rate = max(rates["noop"]), max(rates["fetch"])
        driver.timings.clear()
        t = time.monotonic()
        driver.run_day(day, DAY_PHASES)
        whole = time.monotonic() - t
        stats = local.sandbox.stats()["totals"]
    print(f"bench/day.py: {args.symbols} symbols, day {day}, unlimited sandbox, 2 cores")
    print(f"history backfill (prepare): {backfill:.1f} s")
    for name, seconds in driver.timings.items():
        print(f"  {name:34} {seconds:7.1f} s")
    print(f"whole day: {whole:.1f} s wall (goal <= 60 s: ratio {whole / 60:.2f})")
    print(
        f"no-op task throughput: {noop_rate:.0f}/s; fetch task throughput: {fetch_rate:.0f}/s "
        f"(per-task overhead ratio {noop_rate / fetch_rate:.2f}x, goal <= 2x)"
    )
    print(f"sandbox: {stats['calls']} calls, {stats['throttled']} throttled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
