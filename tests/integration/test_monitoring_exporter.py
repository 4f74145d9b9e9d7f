"""The exporter over real HTTP, reading a private Redis and a real database (SQLite and PostgreSQL).

What goes in is written the way production writes it (``monitoring.recording`` from several processes,
the quota engine, a Celery app's broker, RedBeat's scheduler, the storage functions); what comes out is
parsed from the ``/metrics`` text and compared with what went in.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

import marketcal
from analysis.quality import QualityResult
from monitoring import recording
from monitoring.collector import TickerbeatCollector
from monitoring.server import serve
from ratelimits import Limiter, parse_policy
from runtime import keys
from runtime.settings import Settings
from storage import (
    Database,
    add_api_usage,
    mark_stale,
    upsert_bars,
    upsert_quality,
    upsert_symbols,
)
from worker.app import make_app

ROOT = Path(__file__).resolve().parents[2]
NY = marketcal.EASTERN
# Wednesday 2026-11-25, noon in New York: Tuesday's bars are past their deadline, Wednesday's not closed.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=NY)
TUE, MON = date(2026, 11, 24), date(2026, 11, 23)


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def named(samples, name: str) -> dict[frozenset, float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


@pytest.fixture
def exporter(redis_url):
    """Start an exporter for (settings env, database, clock) on a free loopback port; yields its URL."""
    servers = []

    def start(env=None, database=None, clock=NOW.timestamp, client=None):
        settings = Settings.from_env({"REDIS_URL": redis_url, **(env or {})})
        client = client or redis.Redis.from_url(settings.redis_url)
        collector = TickerbeatCollector(settings, client, database=database, clock=clock)
        server, _thread = serve(collector, 0, "127.0.0.1")
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/metrics"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _record_calls(url: str, n: int) -> None:
    client = redis.Redis.from_url(url)
    for i in range(n):
        recording.record_call(client, "finnhub", "quote", "ok", 0.003 if i % 2 else 0.2)
    recording.record_call(client, "finnhub", "quote", "deferred", None)
    recording.record_task(client, "tasks.finnhub.fetch_quote", "finnhub", "SUCCESS", 0.02)
    client.close()


def test_counts_from_many_processes_add_up_and_survive_them(redis_url, exporter):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_calls, args=(redis_url, 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    samples = scrape(exporter())  # every writer has exited: nothing lived in their memory
    calls = "tickerbeat_api_calls_total"
    assert value(samples, calls, provider="finnhub", endpoint="quote", outcome="ok") == 200
    assert value(samples, calls, provider="finnhub", endpoint="quote", outcome="deferred") == 4
    hist = "tickerbeat_api_call_duration_seconds"
    labels = {"provider": "finnhub", "endpoint": "quote"}
    assert value(samples, f"{hist}_count", **labels) == 200  # deferred calls sent nothing: no duration
    assert value(samples, f"{hist}_sum", **labels) == pytest.approx(100 * 0.003 + 100 * 0.2)
    assert value(samples, f"{hist}_bucket", **labels, le="0.005") == 100
    assert value(samples, f"{hist}_bucket", **labels, le="0.1") == 100
    assert value(samples, f"{hist}_bucket", **labels, le="0.25") == 200
    assert value(samples, f"{hist}_bucket", **labels, le="+Inf") == 200
    task = {"task": "tasks.finnhub.fetch_quote", "queue": "finnhub"}
    assert value(samples, "tickerbeat_tasks_total", **task, state="success") == 4
    assert value(samples, "tickerbeat_task_duration_seconds_count", **task) == 4


def test_quota_figures_follow_the_quota_engine(redis_url, redis_client, exporter):
    policy = parse_policy("30/second, 60/minute")  # Finnhub's free plan, the settings' default
    limiter = Limiter(redis_client, guard=0.1)
    for _ in range(5):
        limiter.acquire("finnhub", policy, max_wait=5)
    limiter.report_throttle("finnhub", policy, retry_after=600, reason="429 in a test")
    before = redis_client.time()[0]
    samples = scrape(exporter())
    for window, limit, seconds in (("30/second", 30, 1), ("60/minute", 60, 60)):
        labels = {"provider": "finnhub", "window": window}
        assert value(samples, "tickerbeat_quota_limit", **labels) == limit
        assert value(samples, "tickerbeat_quota_window_seconds", **labels) == seconds
    minute = {"provider": "finnhub", "window": "60/minute"}
    assert value(samples, "tickerbeat_quota_used", **minute) == 5
    assert value(samples, "tickerbeat_quota_utilisation_ratio", **minute) == pytest.approx(5 / 60)
    assert value(samples, "tickerbeat_quota_granted_total", provider="finnhub") == 5
    assert value(samples, "tickerbeat_quota_violations_total", provider="finnhub") == 1
    assert value(samples, "tickerbeat_quota_blocked", provider="finnhub") == 1
    until = value(samples, "tickerbeat_quota_blocked_until_timestamp_seconds", provider="finnhub")
    assert before + 590 < until < before + 610
    assert value(samples, "tickerbeat_quota_blocked", provider="polygon") == 0
    assert value(samples, "tickerbeat_quota_used", provider="polygon", window="5/minute") == 0


def test_queue_depths_come_from_the_broker(redis_url, exporter):
    app = make_app(Settings.from_env({"REDIS_URL": redis_url}))
    for symbol in ("AAA", "BBB", "CCC"):
        app.send_task(
            "tasks.finnhub.fetch_quote", kwargs={"symbol": symbol, "day": "2026-11-25"}, ignore_result=True
        )
    app.send_task("tasks.analysis.analyse_day", kwargs={"day": "2026-11-25"}, ignore_result=True)
    with app.connection_for_read() as connection:
        delivered = connection.default_channel.basic_get("finnhub", no_ack=False)  # held, not acked
        assert delivered is not None
        samples = scrape(exporter())
    assert value(samples, "tickerbeat_queue_messages", queue="finnhub") == 2
    assert value(samples, "tickerbeat_queue_unacked_messages", queue="finnhub") == 1
    assert value(samples, "tickerbeat_queue_messages", queue="compute") == 1
    assert value(samples, "tickerbeat_queue_messages", queue="polygon") == 0
    assert value(samples, "tickerbeat_queue_unacked_messages", queue="compute") == 0


def test_workers_count_until_they_expire_or_leave(redis_client, exporter):
    url = exporter()
    recording.record_worker(redis_client, "short@host", ["finnhub"], 4, 3, ttl=1)
    recording.record_worker(redis_client, "long@host", ["finnhub", "polygon"], 2, 0, ttl=60)
    samples = scrape(url)
    assert value(samples, "tickerbeat_queue_consumers", queue="finnhub") == 2
    assert value(samples, "tickerbeat_queue_consumers", queue="polygon") == 1
    assert value(samples, "tickerbeat_queue_consumers", queue="compute") == 0
    assert value(samples, "tickerbeat_worker_processes", queue="finnhub") == 6
    assert value(samples, "tickerbeat_worker_busy_processes", queue="finnhub") == 3
    assert value(samples, "tickerbeat_worker_utilisation_ratio", queue="finnhub") == pytest.approx(0.5)
    assert value(samples, "tickerbeat_worker_utilisation_ratio", queue="compute") == 0
    deadline = time.monotonic() + 10
    while redis_client.exists(recording.worker_key("short@host")) and time.monotonic() < deadline:
        time.sleep(0.2)
    samples = scrape(url)  # the short-lived record expired, as a killed worker's does
    assert value(samples, "tickerbeat_queue_consumers", queue="finnhub") == 1
    assert value(samples, "tickerbeat_worker_processes", queue="finnhub") == 2
    assert not redis_client.sismember(recording.WORKERS_KEY, "short@host")
    recording.forget_worker(redis_client, "long@host")
    samples = scrape(url)
    assert value(samples, "tickerbeat_queue_consumers", queue="polygon") == 0


def test_beat_ticks_are_stamped_with_the_redis_clock(redis_url, redis_client, exporter):
    from redbeat.schedulers import acquire_distributed_beat_lock

    from worker.beat import TickerbeatScheduler

    url = exporter()
    assert value(scrape(url), "tickerbeat_beat_last_tick_timestamp_seconds") == 0
    app = make_app(Settings.from_env({"REDIS_URL": redis_url}))
    app.conf.beat_schedule = {}
    assert app.conf.beat_scheduler == "worker.beat:TickerbeatScheduler"
    scheduler = TickerbeatScheduler(app=app)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))  # what beat_init does
    try:
        seconds, micros = redis_client.time()
        scheduler.tick()
        after_seconds, after_micros = redis_client.time()
        first = value(scrape(url), "tickerbeat_beat_last_tick_timestamp_seconds")
        assert seconds + micros / 1e6 <= first <= after_seconds + after_micros / 1e6
        time.sleep(0.05)
        scheduler.tick()
        assert value(scrape(url), "tickerbeat_beat_last_tick_timestamp_seconds") > first
    finally:
        scheduler.close()


def test_conservation_mode_follows_the_budget_checks_key(redis_client, exporter):

    url = exporter()
    samples = scrape(url)
    assert (
        value(samples, "tickerbeat_conservation_mode") == 0
        and value(samples, "tickerbeat_conservation_level") == 0
    )
    redis_client.set(
        keys.CONSERVATION, '{"day": "2026-11-25", "level": 2, "active": true, "projection_usd": 45.5}'
    )
    samples = scrape(url)
    assert (
        value(samples, "tickerbeat_conservation_mode") == 1
        and value(samples, "tickerbeat_conservation_level") == 2
    )
    redis_client.set(keys.CONSERVATION, '{"level": 0, "active": false}')
    assert value(scrape(url), "tickerbeat_conservation_mode") == 0
    redis_client.set(keys.CONSERVATION, "garbage")
    assert value(scrape(url), "tickerbeat_conservation_mode") == 0


def _seed(db: Database) -> None:
    now = NOW.astimezone(UTC)
    with db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "tier": 1 if t < "C" else 2} for t in ("A", "B", "C", "D")])
        upsert_symbols(s, [{"ticker": "GONE", "active": False}])
        bar = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.0, "volume": 1000.0, "source": "test"}
        upsert_bars(s, [{"symbol": t, "day": TUE, **bar} for t in ("A", "B", "C", "GONE")])
        upsert_bars(s, [{"symbol": t, "day": MON, **bar} for t in ("A", "B", "C", "D")])
        mark_stale(s, [{"symbol": "D", "day": TUE, "reason": "no provider could serve it"}])
        add_api_usage(s, "finnhub", now.date(), calls=7, ok=6, errors=1)
        add_api_usage(s, "finnhub", now.date() - timedelta(days=1), calls=5, ok=5)
        add_api_usage(s, "finnhub", date(2026, 10, 31), calls=100, ok=100)  # last month
        add_api_usage(s, "polygon", now.date(), deferred=3)
        upsert_quality(s, MON, [QualityResult("freshness", "tier:1", 0.5, 0.95, False, "older day")])
        upsert_quality(
            s,
            TUE,
            [
                QualityResult("freshness", "tier:1", 1.0, 0.95, True, ""),
                QualityResult("freshness", "tier:2", 0.5, 0.95, False, ""),
                QualityResult("missing_bars", "all", 0.125, 0.02, False, ""),
                QualityResult("price_jumps", "all", 0.5, 0.01, False, ""),
                QualityResult("price_jumps", "symbol:A", 0.6, 0.4, False, ""),
                QualityResult("price_jumps", "symbol:B", -0.5, 0.4, False, ""),
                QualityResult("zero_volume", "all", 0.0, 0.01, True, ""),
            ],
        )


def test_database_and_cost_figures(db, exporter):
    _seed(db)
    # Polygon's $29 flat plan; Finnhub metered by hand: 10 calls a month included, 50 cents each beyond
    plans = {"POLYGON_PLAN": "starter", "FINNHUB_INCLUDED_CALLS": "10", "FINNHUB_OVERAGE_USD_PER_CALL": "0.5"}
    samples = scrape(exporter(plans, database=db))
    assert value(samples, "tickerbeat_exporter_source_up", source="database") == 1
    assert value(samples, "tickerbeat_api_usage_calls", provider="finnhub", window="day") == 7
    assert value(samples, "tickerbeat_api_usage_calls", provider="finnhub", window="month") == 12
    assert (
        value(samples, "tickerbeat_api_usage_calls", provider="polygon", window="day") == 0
    )  # deferred only
    assert value(samples, "tickerbeat_api_usage_calls", provider="yahoo", window="month") == 0
    # cost: 29 dollars accrue at 29/30 a day in November; 25 days have begun on the 25th
    assert value(samples, "tickerbeat_cost_daily_usd", provider="polygon") == pytest.approx(29 / 30)
    assert value(samples, "tickerbeat_cost_month_to_date_usd", provider="polygon") == pytest.approx(
        29 * 25 / 30
    )
    assert value(samples, "tickerbeat_cost_monthly_projection_usd", provider="polygon") == pytest.approx(29)
    # Finnhub: 5 calls yesterday, 7 today: the 11th and 12th are billed today; 1 $ in 25 days -> 1.2 $ a month
    assert value(samples, "tickerbeat_cost_daily_usd", provider="finnhub") == pytest.approx(1.0)
    assert value(samples, "tickerbeat_cost_month_to_date_usd", provider="finnhub") == pytest.approx(1.0)
    assert value(samples, "tickerbeat_cost_monthly_projection_usd", provider="finnhub") == pytest.approx(1.2)
    assert value(samples, "tickerbeat_cost_monthly_projection_usd", provider="yahoo") == 0
    assert value(samples, "tickerbeat_budget_monthly_usd") == 50
    assert value(samples, "tickerbeat_budget_warning_usd") == 40
    assert value(samples, "tickerbeat_budget_utilisation_ratio") == pytest.approx((29 + 1.2) / 50)
    # bars: Tuesday is the expected session; D has no bar for it (served from cache)
    assert value(samples, "tickerbeat_active_symbols") == 4
    assert value(samples, "tickerbeat_daily_bars_fresh_ratio") == 0.75
    assert value(samples, "tickerbeat_stale_symbols") == 1
    assert value(samples, "tickerbeat_data_staleness_seconds") == 0
    assert value(samples, "tickerbeat_last_bar_age_seconds") == 20 * 3600  # Tuesday 16:00 to Wednesday noon
    # quality: the newest checked day, Tuesday
    assert (
        value(samples, "tickerbeat_data_quality_day_timestamp_seconds")
        == datetime(2026, 11, 24, 21, tzinfo=UTC).timestamp()
    )
    assert value(samples, "tickerbeat_data_freshness_ratio", tier="1") == 1.0
    assert value(samples, "tickerbeat_data_freshness_ratio", tier="2") == 0.5
    assert value(samples, "tickerbeat_missing_bars_ratio") == 0.125
    assert value(samples, "tickerbeat_data_anomalies", check="price_jumps") == 2
    assert value(samples, "tickerbeat_data_anomalies", check="zero_volume") == 0
    assert value(samples, "tickerbeat_data_quality_check_ok", check="freshness", scope="tier:2") == 0
    assert value(samples, "tickerbeat_data_quality_check_ok", check="zero_volume", scope="all") == 1
    assert not named(samples, "tickerbeat_data_quality_check_ok").keys() & {
        frozenset({"check": "price_jumps", "scope": "symbol:A"}.items())
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_source_is_reported_and_the_rest_served(redis_url, exporter, tmp_path):
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{_free_port()}/0", socket_connect_timeout=1)
    missing = Database(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    samples = scrape(exporter(database=missing, client=dead))
    assert value(samples, "tickerbeat_exporter_source_up", source="redis") == 0
    assert value(samples, "tickerbeat_exporter_source_up", source="broker") == 0
    assert value(samples, "tickerbeat_exporter_source_up", source="database") == 0
    assert value(samples, "tickerbeat_budget_monthly_usd") == 50  # needs no source
    assert not named(samples, "tickerbeat_quota_used") and not named(samples, "tickerbeat_active_symbols")
    assert not named(samples, "tickerbeat_cost_month_to_date_usd")  # needs the month's usage
    missing.dispose()


def _run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitoring", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--port", "http"), {}, "expected a port number, got 'http'"),
        (("--port", "70000"), {}, "a port is 0..65535"),
        ((), {"REDIS_URL": "ftp://example"}, "configuration error: REDIS_URL"),
        ((), {"POLYGON_PLAN": "gold"}, "POLYGON_PLAN: unknown plan 'gold'"),
    ],
)
def test_usage_errors_are_one_line_without_traceback(args, env, message):
    result = _run(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_command_serves_until_terminated(redis_url, tmp_path):
    port = _free_port()
    env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitoring", "--port", str(port), "--addr", "127.0.0.1"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, samples = time.monotonic() + 60, None
        while samples is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            try:
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
            except requests.ConnectionError:
                time.sleep(0.2)
        assert samples is not None
        assert value(samples, "tickerbeat_exporter_source_up", source="redis") == 1
        assert value(samples, "tickerbeat_exporter_source_up", source="database") == 0  # no schema yet
        busy = _run("--port", str(port), "--addr", "127.0.0.1")
        assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
