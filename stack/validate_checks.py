"""``make validate``'s end-to-end checks (``stack.validate`` runs them): sample stocks, and the whole pipeline.

- ``check_sample``: a handful of symbols, every step in this process with the real parts: the Polygon
  client through a real ``Limiter`` (free-profile sandbox, configured quota) fetches two years of bars,
  the analysis core computes indicators and data-quality checks, a model is trained on the sample
  (walk-forward validated), and every symbol must get a recommendation with its reasons.
- ``check_pipeline``: a small universe through real Celery workers for every queue, the day driven as beat
  drives it (``stack.day.DayDriver``) against the ``demo`` profile, judged like the end-to-end tests.
"""

from __future__ import annotations

import gc
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
    from analysis.model import ModelError, ModelParams, train
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


def _release_results(app) -> None:
    """Unsubscribe the finished results the backend still tracks, while Redis answers (Celery keeps each
    ``get()``'s result registered until it is destroyed, which otherwise happens at interpreter exit, after
    the private Redis stopped: a noisy ignored-exception traceback)."""
    from celery.result import AsyncResult

    for result in [o for o in gc.get_objects() if isinstance(o, AsyncResult) and o.backend is app.backend]:
        app.backend.remove_pending_result(result)


def check_pipeline(redis_url: str, *, universe: int = 100, workdir: str | None = None, timeout: float = 600,
                   api_key: str = "validate-key", guard_seconds: float | None = None,
                   say=print) -> CheckResult:  # fmt: skip
    """The day for ``universe`` symbols on the private Redis at ``redis_url``; database and worker logs in
    ``workdir`` (a temporary directory by default). ``timeout``: seconds allowed per phase. The workers get
    the demo plans' quotas whatever the environment says; ``guard_seconds`` replaces the configured quota
    guard (``TICKERBEAT_QUOTA_GUARD_SECONDS``)."""
    from sqlalchemy import select

    from sandbox.testing import SandboxProcess
    from stack.day import DayDriver, phase_instant
    from stack.workers import ProcessSet
    from storage import Database, recommendations_for
    from storage.migrate import upgrade
    from storage.models import DailyBar, DataQuality, Indicator, StaleMark, Symbol
    from worker.app import make_app
    from worker.settings import Settings

    result = CheckResult("pipeline")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tickerbeat-validate-"))
    shutil.rmtree(work / "db", ignore_errors=True)
    day = marketcal.last_completed_session(datetime.now(UTC) - timedelta(hours=1))
    say(f"    {universe} symbols, trading day {day}, workers for every queue (logs: {work / 'logs'}) ...")
    with SandboxProcess(profile="demo", symbols=universe, now=phase_instant(day, "08:00")) as sandbox:
        url = f"sqlite:///{work / 'db' / 'tickerbeat.db'}"
        env = {"REDIS_URL": redis_url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(work / "data"),
               "TICKERBEAT_REPORTS_DIR": str(work / "reports"), **sandbox.env(api_key=api_key),
               # the private Redis for every role, and the demo plans' own quotas, whatever the shell says
               "CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": "", "REDBEAT_REDIS_URL": "",
               **{f"{p}_PLAN": "demo" for p in ("FINNHUB", "POLYGON", "ALPHAVANTAGE", "YAHOO")},
               **{f"{p}_QUOTA": "" for p in ("FINNHUB", "POLYGON", "ALPHAVANTAGE", "YAHOO")}}  # fmt: skip
        if guard_seconds is not None:
            env["TICKERBEAT_QUOTA_GUARD_SECONDS"] = str(guard_seconds)
        settings = Settings.from_env(env)
        upgrade(url)
        client = redis.Redis.from_url(redis_url)
        app = make_app(settings)
        with ProcessSet(env, work / "logs") as procs:
            procs.start_workers(concurrency=LIGHT_CONCURRENCY, loglevel="INFO")
            driver = DayDriver(app, client, sandbox=sandbox, timeout=timeout, check=procs.check_alive,
                               say=lambda _: None)  # fmt: skip
            try:
                driver.prepare(day)
                phases = driver.run_day(day)
            finally:
                _release_results(app)
        client.close()
        served = sandbox.stats()
        throttled = served["totals"]["throttled"]
        by_provider = {p: v["throttled"] for p, v in served["providers"].items() if v["throttled"]}
    db = Database(url)
    try:
        with db.session() as s:
            symbols = set(s.scalars(select(Symbol.ticker).where(Symbol.active.is_(True))))
            bars = set(s.scalars(select(DailyBar.symbol).where(DailyBar.day == day)))
            indicators = set(s.scalars(select(Indicator.symbol).where(Indicator.day == day)))
            recommended = {r.symbol for r in recommendations_for(s, day)}
            skipped = set(s.scalars(select(DataQuality.scope).where(DataQuality.day == day,
                                                                    DataQuality.check == "not_recommended")))  # fmt: skip
            stale = set(s.scalars(select(StaleMark.symbol).where(StaleMark.day == day)))
    finally:
        db.dispose()
    n = len(symbols)
    result.figures.update({
        "symbols": n, "with the day's bar": len(bars & symbols), "marked stale": len(stale & symbols),
        "analysed": len(indicators & symbols), "recommended": len(recommended & symbols),
        "skipped with a reason": len(skipped & symbols), "throttle answers": throttled,
        "phase seconds": ", ".join(f"{k} {v}" for k, v in driver.timings.items()),
    })  # fmt: skip
    if n < 0.9 * universe:
        result.problems.append(f"only {n} of {universe} symbols in the universe")
    if symbols - bars - stale:
        result.problems.append(f"no bar and no stale mark: {sorted(symbols - bars - stale)[:10]}")
    if symbols - recommended - skipped:
        result.problems.append(
            f"neither recommended nor skipped: {sorted(symbols - recommended - skipped)[:10]}"
        )
    if len(recommended) < 0.9 * n or len(indicators) < 0.9 * n:
        result.problems.append(f"{len(recommended)} recommended, {len(indicators)} analysed of {n} (< 90 %)")
    if throttled:
        result.problems.append(f"the sandbox answered {throttled} calls with a throttle: {by_provider}")
    from stack.day import DAY_PHASES

    ranked = [phases[p.name] for p in DAY_PHASES if p.task == RECOMMEND_TASK and p.name in phases]
    if ranked and ranked[-1].get("recommendations") != len(recommended):
        result.problems.append("the recommendation task's count differs from the stored recommendations")
    return result
