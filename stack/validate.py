"""``make validate``: the seed's three checks, each printed PASS or FAIL with its figures; exit 1 if any fails.

    python -m stack.validate [--only rate-limits,sample,pipeline] [--live-seconds 15] [--universe 100]

1. **rate limits**: the capacity plan (``planning.fit.check``) fits every configured quota, and a short live
   run of every provider's client through a real ``Limiter``, at each queue's concurrency, against the
   sandbox's ``free`` profile draws no throttle answer and no violation.
2. **sample stocks**: a handful of symbols fetched from the free-profile sandbox through the Polygon client,
   analysed (indicators, data quality) and recommended by a model trained on them: every one recommended.
3. **pipeline**: a whole trading day for a small universe, driven as beat drives it (``stack.day``) through
   real workers for every queue against the ``demo`` profile: every symbol has its bar (or is marked stale)
   and is recommended (or has a recorded reason), no throttles, and every run of the paced dispatcher adds
   up (planned = admitted + carried at planning, admitted = made + carried + stale) with nothing pending.

The quotas are the configured ones (``<P>_QUOTA``/``<P>_PLAN``): set ``FINNHUB_QUOTA=100/second`` and the
rate-limit check fails. Everything runs against the offline sandbox on a private Redis, so the real quotas
and the real database are never touched. Times are seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import redis
import requests

import marketcal
import ratelimits
from providers import CLIENTS, Outcome, ProviderConfig
from runtime.cli import Parser, UsageError, run_main
from runtime.queues import BY_NAME, PROVIDERS
from runtime.settings import Settings
from sandbox.testing import SandboxError, SandboxProcess
from stack.redis_server import RedisServer, RedisServerError

CHECKS = ("rate-limits", "sample", "pipeline")
SANDBOX_SYMBOLS = 300  # the free-profile sandbox's universe for checks 1 and 2


@dataclass
class CheckResult:
    """One check's verdict: ``figures`` are printed as ``name: value``; ``problems`` say why it failed."""

    name: str
    figures: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"{'PASS' if self.passed else 'FAIL'} {self.name}"]
        out += [f"    {k}: {v}" for k, v in self.figures.items()]
        out += [f"    problem: {p}" for p in self.problems]
        return out


def sandbox_settings(settings: Settings, sandbox: SandboxProcess) -> Settings:
    """``settings`` with every provider pointed at ``sandbox`` (its URLs, a key); quotas and plans kept."""
    env = {}
    for name, p in settings.providers.items():
        prefix = name.upper()
        env.update({f"{prefix}_PLAN": p.plan, f"{prefix}_QUOTA": p.quota})
    env.update(sandbox.env(api_key="validate-key"))
    return Settings.from_env(env)


def provider_client(settings: Settings, provider: str, limiter: ratelimits.Limiter, max_wait: float):
    """A provider's real client on its own HTTP session, paced by ``limiter`` under the configured policy."""
    p = settings.providers[provider]
    policy = ratelimits.parse_policy(p.quota)
    return CLIENTS[provider](
        ProviderConfig.from_settings(p), requests.Session(), limiter, policy, max_wait=max_wait
    )


# -- 1. rate limits ---------------------------------------------------------------------------------------


def densest(arrivals: list[float], seconds: float) -> int:
    """The most arrivals (epoch seconds) inside any interval of ``seconds`` seconds (half-open: an arrival
    exactly ``seconds`` after another falls in the next interval, as a strict provider counts)."""
    times = sorted(arrivals)
    best, left = 0, 0
    for right, t in enumerate(times):
        while t - times[left] >= seconds:
            left += 1
        best = max(best, right - left + 1)
    return best


def _call(client, provider: str, symbol: str, i: int, day: date):
    """One call of an endpoint the planner uses (Polygon alternates its bulk and per-symbol ones)."""
    if provider == "finnhub":
        return client.quote(symbol)
    if provider == "polygon":
        return client.grouped_daily(day) if i % 2 else client.previous_close(symbol)
    if provider == "alphavantage":
        return client.global_quote(symbol)
    return client.daily_history(symbol, day - timedelta(days=30), day)


def _caller(settings: Settings, redis_url: str, provider: str, offset: int, symbols: list[str], day: date,
            deadline: float, out) -> None:  # fmt: skip
    """One simulated worker process: its own Redis connection, ``Limiter`` and client; calls until
    ``deadline`` (``time.monotonic``, system-wide) or until the quota defers it; puts its outcomes on ``out``."""
    connection = redis.Redis.from_url(redis_url)
    limiter = ratelimits.Limiter(connection, guard=settings.quota_guard_seconds)
    client = provider_client(settings, provider, limiter, max_wait=max(0.0, deadline - time.monotonic()))
    outcomes: Counter = Counter()
    try:
        for i in range(offset, offset + 100_000):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            client.max_wait = left  # never wait past the end of the run
            result = _call(client, provider, symbols[i % len(symbols)], i, day)
            outcomes[result.outcome.value] += 1
            if result.outcome in (Outcome.DEFERRED, Outcome.THROTTLED, Outcome.QUOTA_EXHAUSTED):
                break  # blocked or out of quota until after the run
        out.put((provider, dict(outcomes), None))
    except Exception as exc:  # noqa: BLE001 - reported as the check's problem
        out.put((provider, dict(outcomes), f"{provider}: {type(exc).__name__}: {exc}"))
    finally:
        client.session.close()
        connection.close()


def live_run(
    settings: Settings, redis_url: str, seconds: float, symbols: list[str], day: date
) -> dict[str, Counter]:
    """Every provider's client in as many processes as its queue has worker processes (as the workers run),
    calling as fast as the quota lets them for ``seconds``. Returns the outcomes per provider
    (``deferred``: the quota's next slot lay beyond the run, no call made)."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    deadline = time.monotonic() + seconds
    procs = [
        context.Process(
            target=_caller, args=(settings, redis_url, p, 7 * k, symbols, day, deadline, out), daemon=True
        )
        for p in PROVIDERS
        for k in range(BY_NAME[p].concurrency)
    ]
    for proc in procs:
        proc.start()
    outcomes = {p: Counter() for p in PROVIDERS}
    errors = []
    for _ in procs:
        try:
            provider, counts, error = out.get(timeout=seconds + 120)
        except queue.Empty:
            errors.append("a caller process did not report")
            break
        outcomes[provider].update(counts)
        if error:
            errors.append(error)
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return outcomes


def check_rate_limits(settings: Settings, redis_url: str, *, universe: int = 6500, seconds: float = 15.0,
                      say=print) -> CheckResult:  # fmt: skip
    from planning.fit import check

    result = CheckResult("rate limits")
    fits, lines = check(settings, universe)
    result.figures["capacity plan"] = (
        f"{'fits' if fits else 'does NOT fit'} ({universe} symbols; make validate-plan)"
    )
    if not fits:
        result.problems.append("the day's schedule does not fit the configured quotas")
    say(f"    live run: {seconds:g} s against the free-profile sandbox ...")
    with SandboxProcess(profile="free", symbols=SANDBOX_SYMBOLS) as sandbox:
        local = sandbox_settings(settings, sandbox)
        symbols = sorted(s["symbol"] for s in sandbox.universe() if s["active"])
        day = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
        outcomes = live_run(local, redis_url, seconds, symbols, day)
        served = sandbox.stats()["providers"]
        log = sandbox.requests()
    limiter = ratelimits.Limiter(redis.Redis.from_url(redis_url))
    for p in PROVIDERS:
        stats = limiter.stats(p, ratelimits.parse_policy(local.providers[p].quota))
        throttled = served[p]["throttled"]
        result.figures[p] = (
            f"{served[p]['calls']} calls, {throttled} throttled by the sandbox, {stats.violations} violations, "
            f"{outcomes[p].get('deferred', 0)} deferred by the quota ({local.providers[p].quota})"
        )
        if throttled or stats.violations:
            arrivals = [r["arrival"] for r in log if r["provider"] == p]
            peaks = ", ".join(
                f"{densest(arrivals, w.seconds)} in {w.seconds:g} s (limit {w.limit})"
                for w in ratelimits.parse_policy(local.providers[p].quota).windows
                if not w.calendar
            )
            result.problems.append(
                f"{p}: {throttled} throttle answers, {stats.violations} violations; densest arrivals: {peaks} "
                f"(quota guard {local.quota_guard_seconds:g} s)"
            )
        if not outcomes[p].get("ok"):
            result.problems.append(f"{p}: no successful call ({dict(outcomes[p])})")
    return result


# -- the runner ---------------------------------------------------------------------------------------------


def run(args, settings: Settings, say=print) -> list[CheckResult]:
    from stack.validate_checks import check_pipeline, check_sample

    results = []
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        for name in args.only:
            client.flushall()
            say(f"==> {name}")
            start = time.monotonic()
            try:
                if name == "rate-limits":
                    result = check_rate_limits(settings, server.url, seconds=args.live_seconds, say=say)
                elif name == "sample":
                    result = check_sample(settings, server.url, count=args.sample_size, say=say)
                else:
                    result = check_pipeline(server.url, universe=args.universe, workdir=args.workdir, say=say)
            except (SandboxError, RuntimeError, TimeoutError) as exc:
                result = CheckResult(name, problems=[f"could not run: {exc}"])
            except Exception as exc:  # noqa: BLE001 - a bug: the traceback, then the other checks
                traceback.print_exc()
                result = CheckResult(name, problems=[f"crashed: {type(exc).__name__}: {exc}"])
            result.figures["seconds"] = round(time.monotonic() - start, 1)
            for line in result.lines():
                say(line)
            results.append(result)
        client.close()
    return results


def _only(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(CHECKS)}, got {text!r}")
    return [n for n in CHECKS if n in names]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m stack.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=_only, default=list(CHECKS), help=f"some of {','.join(CHECKS)}")
    parser.add_argument("--live-seconds", type=float, default=15.0, help="live rate-limit run (default 15)")
    parser.add_argument("--sample-size", type=int, default=5, help="sample stocks (default 5)")
    parser.add_argument("--universe", type=int, default=100, help="pipeline universe (default 100)")
    parser.add_argument("--workdir", default="var/validate", help="pipeline database and logs")
    args = parser.parse_args(argv)
    if not 1 <= args.live_seconds <= 600:
        parser.error("--live-seconds must be between 1 and 600")
    if not 3 <= args.sample_size <= 20:
        parser.error("--sample-size must be between 3 and 20")
    if not 50 <= args.universe <= 2000:
        parser.error("--universe must be between 50 and 2000")
    settings = Settings.from_env()
    try:
        results = run(args, settings, say=lambda text: print(text, flush=True))
    except RedisServerError as exc:
        raise UsageError(f"cannot start a private redis-server: {exc}") from None
    failed = [r.name for r in results if not r.passed]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} checks passed"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run_main(main)
