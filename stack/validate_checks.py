"""``make validate``'s end-to-end checks (``stack.validate`` runs them): sample stocks, and the whole pipeline.

- ``check_sample``: a handful of symbols, every step in this process with the real parts: the Polygon
  client through a real ``Limiter`` (free-profile sandbox, configured quota) fetches two years of bars,
  the analysis core computes indicators and data-quality checks, a model is trained on the sample
  (walk-forward validated), and every symbol must get a recommendation with its reasons.
- ``check_pipeline``: a small universe through real Celery workers for every queue, the day driven as beat
  drives it (``stack.day.DayDriver``) against the ``demo`` profile, judged like the end-to-end tests, and by
  the paced dispatcher's ledgers: every run of the day (and of its preparation) adds up, nothing pending.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import redis

import marketcal
import ratelimits
from stack.local import LIGHT_CONCURRENCY
from stack.validate import SANDBOX_SYMBOLS, CheckResult, provider_client, sandbox_settings

RECOMMEND_TASK = "tasks.recommendations.recommend_day"
HISTORY_DAYS = 720  # inside the free Polygon plan's two years


def _sample_symbols(universe: list[dict], count: int, start: date) -> list[str]:
    """``count`` active common stocks listed before ``start``, spread over the alphabet (deterministic)."""
    eligible = sorted(
        s["symbol"]
        for s in universe
        if s["active"]
        and s.get("type") == "Common Stock"
        and s.get("listed")
        and s["listed"] < start.isoformat()
    )
    if len(eligible) < count:
        return eligible
    step = len(eligible) / count
    return [eligible[int(i * step)] for i in range(count)]


def _panel(bars_by_symbol: dict[str, list]):
    from analysis.panel import Panel

    symbols = sorted(bars_by_symbol)
    dates = sorted({b.day for bars in bars_by_symbol.values() for b in bars})
    row = {d: i for i, d in enumerate(dates)}
    arrays = {f: np.full((len(dates), len(symbols)), np.nan) for f in ("close", "high", "low", "volume")}
    for j, symbol in enumerate(symbols):
        for b in bars_by_symbol[symbol]:
            for f in arrays:
                arrays[f][row[b.day], j] = getattr(b, f)
    return Panel(tuple(dates), tuple(symbols), **arrays)


def check_sample(settings, redis_url: str, *, count: int = 5, say=print) -> CheckResult:
    from analysis.indicators import compute_indicators, latest
    from analysis.model import ModelError, ModelParams, NotEnoughHistory, train
    from analysis.quality import run_checks
    from analysis.recommend import daily_recommendations
    from sandbox.testing import SandboxProcess

    result = CheckResult("sample stocks")
    with SandboxProcess(profile="free", symbols=SANDBOX_SYMBOLS) as sandbox:
        local = sandbox_settings(settings, sandbox)
        day = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
        start = day - timedelta(days=HISTORY_DAYS)
        symbols = _sample_symbols(sandbox.universe(), count, start)
        connection = redis.Redis.from_url(redis_url)
        client = provider_client(
            local, "polygon", ratelimits.Limiter(connection, guard=local.quota_guard_seconds), 150.0
        )
        say(f"    fetching {', '.join(symbols)} ({start} to {day}) through the Polygon client ...")
        fetched = {s: client.daily_range(s, start, day) for s in symbols}
        throttled = sandbox.stats()["totals"]["throttled"]
        client.session.close()
        connection.close()
    bad = {s: f"{r.outcome.value}: {r.message}" for s, r in fetched.items() if not r.ok or not r.records}
    result.figures["symbols"] = ", ".join(symbols)
    result.figures["bars fetched"] = sum(len(r.records) for r in fetched.values())
    result.figures["throttle answers"] = throttled
    result.problems += [f"{s}: not fetched ({why})" for s, why in bad.items()]
    if throttled:
        result.problems.append(f"the sandbox answered {throttled} calls with a throttle")
    if bad or len(symbols) < count:
        if len(symbols) < count:
            result.problems.append(f"only {len(symbols)} eligible symbols in the sandbox")
        return result

    panel = _panel({s: list(r.records) for s, r in fetched.items()})
    values = latest(compute_indicators(panel.close, panel.high, panel.low, panel.volume))
    missing = [f"{name}:{panel.symbols[j]}" for name, v in values.items() for j in range(len(symbols))
               if not math.isfinite(v[j])]  # fmt: skip
    quality = run_checks(panel, day, {s: "sample" for s in symbols})
    result.figures["indicators"] = f"{len(values)} per symbol on {day}, {len(missing)} missing"
    result.figures["quality checks"] = f"{sum(q.ok for q in quality)} of {len(quality)} passed"
    result.problems += [f"indicator {m} has no value on {day}" for m in missing[:10]]
    result.problems += [
        f"quality {q.check}: {q.detail}" for q in quality if not q.ok and q.check == "bad_bars"
    ]
    try:
        model = train(panel, day, ModelParams(kind="logistic", min_cross_section=len(symbols), n_folds=2))
    except NotEnoughHistory as exc:
        result.problems.append(f"recommendations skipped: {exc.reason}")
        return result
    except ModelError as exc:
        result.problems.append(f"model: {exc}")
        return result
    recommendations, skipped = daily_recommendations(panel, day, model)
    result.figures["model"] = f"{model.version}: {model.metrics.summary()}"
    result.figures["recommended"] = ", ".join(
        f"{r.symbol} {r.action} ({r.score:.3f})" for r in recommendations
    )
    result.problems += [f"{s.symbol} not recommended: {s.reason}" for s in skipped]
    result.problems += [
        f"{r.symbol}: {len(r.reasons)} reasons" for r in recommendations if len(r.reasons) < 4
    ]
    return result


def check_pipeline(redis_url: str, *, universe: int = 100, workdir: str | None = None, timeout: float = 600,
                   api_key: str = "validate-key", guard_seconds: float | None = None,
                   say=print) -> CheckResult:  # fmt: skip
    """The day for ``universe`` symbols on the private Redis at ``redis_url``; database and worker logs in
    ``workdir`` (a temporary directory by default). ``timeout``: seconds allowed per phase. The workers get
    the demo plans' quotas whatever the environment says; ``guard_seconds`` replaces the configured quota
    guard (``TICKERBEAT_QUOTA_GUARD_SECONDS``)."""
    from stack.day import phase_instant
    from stack.local import PROVIDER_PREFIXES, day_coverage, local_stack
    from storage import recommendations_skipped

    result = CheckResult("pipeline")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tickerbeat-validate-"))
    shutil.rmtree(work / "db", ignore_errors=True)
    day = marketcal.last_completed_session(datetime.now(UTC) - timedelta(hours=1))
    say(f"    {universe} symbols, trading day {day}, workers for every queue (logs: {work / 'logs'}) ...")
    # the private Redis for every role, and the demo plans' own quotas, whatever the shell says
    overrides = {"CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": "", "REDBEAT_REDIS_URL": "",
                 **{f"{p}_QUOTA": "" for p in PROVIDER_PREFIXES}}  # fmt: skip
    if guard_seconds is not None:
        overrides["TICKERBEAT_QUOTA_GUARD_SECONDS"] = str(guard_seconds)
    with local_stack(
        work, symbols=universe, sandbox_now=phase_instant(day, "08:00"), profile="demo",
        database_url=f"sqlite:///{work / 'db' / 'tickerbeat.db'}", redis_url=redis_url,
        concurrency=LIGHT_CONCURRENCY, extra_env=overrides, loglevel="INFO", timeout=timeout, api_key=api_key,
        say=lambda _: None,
    ) as local:  # fmt: skip
        driver = local.driver
        driver.prepare(day)
        phases = driver.run_day(day)
        ledgers = _day_ledgers(local.redis, [marketcal.previous_trading_day(day), day])
        served = local.sandbox.stats()
        coverage = day_coverage(local.db, day)
        with local.db.session() as s:
            skipped_reason = recommendations_skipped(s, day)
    throttled = served["totals"]["throttled"]
    by_provider = {p: v["throttled"] for p, v in served["providers"].items() if v["throttled"]}
    symbols, bars, stale = coverage.symbols, coverage.bars, coverage.stale
    indicators, recommended, skipped = coverage.indicators, coverage.recommended, coverage.skipped
    n = len(symbols)
    result.figures.update({
        "symbols": n, "with the day's bar": len(bars & symbols), "marked stale": len(stale & symbols),
        "analysed": len(indicators & symbols), "recommended": len(recommended & symbols),
        "skipped with a reason": len(skipped & symbols), "throttle answers": throttled,
        "phase seconds": ", ".join(f"{k} {v}" for k, v in driver.timings.items()),
    })  # fmt: skip
    if n < 0.9 * universe:
        result.problems.append(f"only {n} of {universe} symbols in the universe")
    if coverage.without_bar:
        result.problems.append(f"no bar and no stale mark: {sorted(coverage.without_bar)[:10]}")
    if coverage.unexplained:
        result.problems.append(f"neither recommended nor skipped: {sorted(coverage.unexplained)[:10]}")
    if skipped_reason:
        result.problems.append(f"recommendations skipped: {skipped_reason}")
        if len(indicators) < 0.9 * n:
            result.problems.append(f"{len(indicators)} analysed of {n} (< 90 %)")
    elif len(recommended) < 0.9 * n or len(indicators) < 0.9 * n:
        result.problems.append(f"{len(recommended)} recommended, {len(indicators)} analysed of {n} (< 90 %)")
    if throttled:
        result.problems.append(f"the sandbox answered {throttled} calls with a throttle: {by_provider}")
    figures, problems = dispatch_verdict(ledgers)
    result.figures.update(figures)
    result.problems += problems
    from stack.day import DAY_PHASES

    ranked = [phases[p.name] for p in DAY_PHASES if p.task == RECOMMEND_TASK and p.name in phases]
    if ranked and ranked[-1].get("recommendations") != len(recommended):
        result.problems.append("the recommendation task's count differs from the stored recommendations")
    return result


def _day_ledgers(client, days: list[date]):
    from dispatch import Backlog
    from monitoring.ledgers import day_ledgers

    return day_ledgers(Backlog(client), [d.isoformat() for d in days])


def dispatch_verdict(ledgers, most: int = 10) -> tuple[dict[str, str], list[str]]:
    """The paced dispatcher's part of the verdict: per provider ``dispatch <provider>`` figures (planned,
    admitted, made, deferred then made, carried, stale, pending) summed over ``ledgers`` (the day's runs and
    its preparation's), and a problem for each run whose counts do not add up or that still has a call
    pending (at most ``most``, then how many more)."""
    from monitoring.ledgers import by_provider, day_problems

    figures = {}
    for provider, row in by_provider(lg.as_record() for lg in ledgers).items():
        figures[f"dispatch {provider}"] = (
            f"{row['planned']} planned, {row['admitted']} admitted, {row['made']} made "
            f"({row['deferred_then_made']} after a deferral), {row['carried']} carried, {row['stale']} stale, "
            f"{row['pending']} pending, {row['runs']} runs{'' if row['adds_up'] else ', NOT adding up'}"
        )
    if not ledgers:
        return figures, ["the paced dispatcher recorded no run for the day"]
    problems = [f"dispatch: {p}" for p in day_problems(ledgers, finished=True)]
    if len(problems) > most:
        problems = problems[:most] + [f"dispatch: and {len(problems) - most} more"]
    return figures, problems
