"""The exporter scraped while a small pipeline runs: real workers for every queue, the sandbox, a real
database and a private Redis. Every metric documented in docs/metrics.md must be served with sane values,
and the figures the workers produced must agree with what the sandbox says it answered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

import marketcal
from monitoring.catalogue import BY_NAME
from monitoring.collector import TickerbeatCollector
from monitoring.server import serve
from runtime.queues import QUEUE_NAMES
from runtime.settings import Settings
from sandbox.testing import SandboxError, SandboxProcess
from stack.day import DayDriver, phase_instant
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet
from storage import Database
from storage.migrate import upgrade
from storage.testing import scratch_database
from tests.conftest import require
from worker.app import make_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
SYMBOLS = 60
DAY = date(2026, 11, 18)  # a Wednesday, a full session
PREVIOUS = marketcal.previous_trading_day(DAY)
# The exporter's clock: the morning after DAY, past the deadline of DAY's bars.
CLOCK = phase_instant(DAY, "+1 07:00")
# (task, New York time of its beat slot, the sandbox clock's day, kwargs): a short prepare and one day.
PHASES = (
    # the first start: universe, 45 days of history, tiers (too little history for a model: said, not fatal)
    ("tasks.tiers.bootstrap", "08:00", PREVIOUS, {"history_end": PREVIOUS.isoformat(), "history_days": 45}),
    ("tasks.planner.plan_refresh", "16:00", DAY, {"tiers": [1, 2, 3, 4], "provider": "finnhub", "day": DAY.isoformat()}),
    ("tasks.analysis.analyse_day", "18:00", DAY, {"day": DAY.isoformat()}),
    ("tasks.planner.plan_eod", "+1 00:30", DAY, {"day": DAY.isoformat()}),
)  # fmt: skip


def documented() -> list[str]:
    names = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`tickerbeat_"):
            names.append(cells[0].strip("`"))
    return names


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def series(samples, name: str, **labels) -> list[float]:
    wanted = set(labels.items())
    return [v for (n, ls), v in samples.items() if n == name and wanted <= ls]


def one(samples, name: str, **labels) -> float:
    (v,) = series(samples, name, **labels)
    return v


class Scraper(threading.Thread):
    """Scrapes the endpoint every ``interval`` seconds until stopped; keeps every answer's samples."""

    def __init__(self, url: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.results: list[dict] = []
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                response = requests.get(self.url, timeout=30)
                if response.status_code == 200:
                    self.results.append(parse(response.text))
                else:
                    self.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
            self.halt.wait(self.interval)

    def latest(self) -> dict:
        response = requests.get(self.url, timeout=30)
        assert response.status_code == 200, response.text[:500]
        return parse(response.text)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("monitoring-stack")
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no redis-server: {exc}")
    try:
        sandbox = SandboxProcess(
            profile="demo", symbols=SYMBOLS, now=phase_instant(PREVIOUS, "08:00")
        ).start()
    except SandboxError as exc:
        server.stop()
        require(False, f"sandbox did not start: {exc}")
    base = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{work / 'tickerbeat.db'}"
    with scratch_database(base) as url:
        env = {"REDIS_URL": server.url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(work),
               "TICKERBEAT_REPORTS_DIR": str(work / "reports"), "TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "60",
               **sandbox.env(api_key="test-key"),
               **{f"{p}_PLAN": "demo" for p in ("FINNHUB", "POLYGON", "ALPHAVANTAGE", "YAHOO")},
               # Alpha Vantage paced slowly, so a few of its tasks keep its worker visibly busy.
               "ALPHAVANTAGE_QUOTA": "1/2 seconds"}  # fmt: skip
        settings = Settings.from_env(env)
        upgrade(url)
        procs = ProcessSet(env, work / "logs")
        procs.start_workers(concurrency=dict.fromkeys(QUEUE_NAMES, 1), loglevel="INFO")
        client = redis.Redis.from_url(server.url)
        db = Database(url)
        collector = TickerbeatCollector(settings, client, database=db, clock=CLOCK.timestamp)
        http, _thread = serve(collector, 0, "127.0.0.1")
        app = make_app(settings)
        driver = DayDriver(
            app, client, sandbox=sandbox, timeout=300, check=procs.check_alive, say=lambda _: None
        )
        try:
            yield SimpleNamespace(
                settings=settings, sandbox=sandbox, procs=procs, driver=driver, redis=client, db=db, app=app,
                url=f"http://127.0.0.1:{http.server_port}/metrics", logs=work / "logs",
            )  # fmt: skip
        finally:
            http.shutdown()
            http.server_close()
            db.dispose()
            procs.stop()
            sandbox.stop()
            server.stop()


def _wait_for(scraper: Scraper, predicate, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = scraper.latest()
        if predicate(samples):
            return samples
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def run_phase(stack, task: str, at: str, clock_day: date, kwargs: dict) -> None:
    """Send ``task`` as beat would at ``at`` (the sandbox's clock moved there) and wait until every queue
    is drained. Outcomes are read from the metrics, so nothing waits on a result (no result subscription
    outlives the stack's Redis)."""
    stack.sandbox.clock(now=phase_instant(clock_day, at))
    stack.app.send_task(task, kwargs=kwargs, ignore_result=True)
    stack.driver.wait_idle(task)


def _tick_beat(stack) -> tuple[float, float]:
    """One tick of the real scheduler class against the stack's Redis; returns the Redis clock around it."""
    from redbeat.schedulers import acquire_distributed_beat_lock

    from worker.beat import TickerbeatScheduler

    app = make_app(stack.settings)
    app.conf.beat_schedule = {}
    scheduler = TickerbeatScheduler(app=app)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))
    try:
        before = stack.redis.time()
        scheduler.tick()
        after = stack.redis.time()
    finally:
        scheduler.close()
    return before[0] + before[1] / 1e6, after[0] + after[1] / 1e6


def test_every_documented_metric_is_served_with_sane_values_while_a_pipeline_runs(stack):
    scraper = Scraper(stack.url)
    # every queue has a live consumer once the workers are up
    _wait_for(
        scraper,
        lambda s: all(one(s, "tickerbeat_queue_consumers", queue=q) == 1 for q in QUEUE_NAMES),
        120,
        "a live consumer on every queue",
    )
    scraper.start()
    try:
        for task, at, clock_day, kwargs in PHASES:
            run_phase(stack, task, at, clock_day, kwargs)
        # a burst of slowly paced Alpha Vantage fetches keeps that worker busy for several seconds
        for symbol in ("AAPL", "MSFT", "IBM", "NVDA"):
            stack.app.send_task(
                "tasks.alphavantage.fetch_daily",
                kwargs={"symbol": symbol, "start": "2026-11-01", "end": "2026-11-18"},
                ignore_result=True,  # nobody waits for it: no result subscription outliving the test's Redis
            )
        busy = _wait_for(
            scraper,
            lambda s: one(s, "tickerbeat_worker_busy_processes", queue="alphavantage") == 1,
            60,
            "the alphavantage worker to be busy",
        )
        assert one(busy, "tickerbeat_worker_utilisation_ratio", queue="alphavantage") == 1.0
        stack.driver.wait_idle("alphavantage burst")
    finally:
        scraper.halt.set()
        scraper.join(60)
    before, after = _tick_beat(stack)
    final = _wait_for(
        scraper,
        lambda s: one(s, "tickerbeat_worker_busy_processes", queue="alphavantage") == 0,
        30,
        "idle workers",
    )

    assert not scraper.failures, scraper.failures[:5]
    assert len(scraper.results) >= 10
    # every documented metric is served
    for name in documented():
        shown = name + "_count" if BY_NAME[name].kind == "histogram" else name
        assert series(final, shown), f"{name} is documented but not served"
    for source in ("redis", "broker", "database"):
        assert one(final, "tickerbeat_exporter_source_up", source=source) == 1

    # provider calls: what the workers counted is what the sandbox says it answered
    served = stack.sandbox.stats()["providers"]
    for provider in ("finnhub", "polygon", "yahoo", "alphavantage"):
        sent = [
            v
            for (n, ls), v in final.items()
            if n == "tickerbeat_api_calls_total"
            and ("provider", provider) in ls
            and dict(ls)["outcome"] not in ("deferred", "unavailable")
        ]
        assert sum(sent) == served[provider]["calls"], provider
        assert one(final, "tickerbeat_quota_granted_total", provider=provider) == served[provider]["calls"]
        assert (
            one(final, "tickerbeat_quota_violations_total", provider=provider)
            == served[provider]["throttled"]
            == 0
        )
        timed = series(final, "tickerbeat_api_call_duration_seconds_count", provider=provider)
        assert sum(timed) == served[provider]["calls"]
    assert served["finnhub"]["calls"] >= SYMBOLS and served["alphavantage"]["calls"] == 4
    http_seconds = sum(series(final, "tickerbeat_api_call_duration_seconds_sum"))
    assert 0 < http_seconds < 60

    # task runs: one fetch task per quote call, none failed, run times counted for every run
    quotes = one(final, "tickerbeat_tasks_total", task="tasks.finnhub.fetch_quote", state="success")
    assert quotes == sum(series(final, "tickerbeat_api_calls_total", provider="finnhub", endpoint="quote"))
    assert not [v for v in series(final, "tickerbeat_tasks_total", state="failure") if v]
    for task in ("tasks.planner.plan_refresh", "tasks.analysis.analyse_day", "tasks.planner.plan_eod"):
        assert one(final, "tickerbeat_tasks_total", task=task, state="success") == 1
        assert one(final, "tickerbeat_task_duration_seconds_count", task=task) == 1
        assert 0 < one(final, "tickerbeat_task_duration_seconds_sum", task=task) < 300

    # queues drained, every queue consumed by its one worker of one process
    for q in QUEUE_NAMES:
        assert one(final, "tickerbeat_queue_messages", queue=q) == 0
        assert one(final, "tickerbeat_queue_unacked_messages", queue=q) == 0
        assert one(final, "tickerbeat_worker_processes", queue=q) == 1
    seen_waiting = max(sum(series(s, "tickerbeat_queue_messages")) + sum(series(s, "tickerbeat_queue_unacked_messages"))
                       for s in scraper.results)  # fmt: skip
    assert seen_waiting >= 1  # the scrapes during the run saw work in flight

    # quotas within their limits
    for v in series(final, "tickerbeat_quota_utilisation_ratio"):
        assert 0 <= v <= 1
    # beat, the dispatcher's ledgers, cost
    assert before <= one(final, "tickerbeat_beat_last_tick_timestamp_seconds") <= after
    assert sum(series(final, "tickerbeat_dispatch_pending")) == 0
    assert sum(series(final, "tickerbeat_dispatch_unbalanced_runs")) == 0
    assert sum(series(final, "tickerbeat_dispatch_made")) >= 2  # at least the night's two grouped calls
    assert one(final, "tickerbeat_budget_utilisation_ratio") == 0  # demo plans cost nothing

    # data quality of DAY, judged the morning after
    assert one(final, "tickerbeat_active_symbols") >= SYMBOLS * 0.9
    assert one(final, "tickerbeat_data_staleness_seconds") == 0
    assert (
        one(final, "tickerbeat_last_bar_age_seconds")
        == (CLOCK - marketcal.session_close(DAY)).total_seconds()
    )
    assert 0.9 <= one(final, "tickerbeat_daily_bars_fresh_ratio") <= 1
    assert (
        one(final, "tickerbeat_data_quality_day_timestamp_seconds")
        == marketcal.session_close(DAY).timestamp()
    )
    for v in series(final, "tickerbeat_data_freshness_ratio") + series(
        final, "tickerbeat_missing_bars_ratio"
    ):
        assert 0 <= v <= 1
    assert all(v >= 0 for v in series(final, "tickerbeat_data_anomalies"))


def test_a_stopped_worker_leaves_at_once_and_a_killed_one_expires(stack):
    scraper = Scraper(stack.url)
    yahoo, maintenance = stack.procs.procs["worker-yahoo"], stack.procs.procs["worker-maintenance"]
    os.killpg(yahoo.pid, signal.SIGTERM)  # warm shutdown: worker_shutdown removes its record
    yahoo.wait(timeout=60)
    assert one(scraper.latest(), "tickerbeat_queue_consumers", queue="yahoo") == 0
    os.killpg(maintenance.pid, signal.SIGKILL)  # no goodbye: its record expires
    maintenance.wait(timeout=30)
    assert one(scraper.latest(), "tickerbeat_queue_consumers", queue="maintenance") == 1
    _wait_for(scraper, lambda s: one(s, "tickerbeat_queue_consumers", queue="maintenance") == 0, 40, "expiry")
    assert one(scraper.latest(), "tickerbeat_queue_consumers", queue="compute") == 1
