"""Every provider call ends inside its deadline with a counted outcome: a provider that trickles its answer
(the sandbox's ``trickle`` fault, a byte at a time: no read timeout ever trips), one that accepts connections
and never answers, and one whose port is closed. Through a real worker, calls ended by the deadline and by
the task's soft time limit settle, so their run's ledger adds up."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from dispatch import RunSpec
from jobs.feeder import feed_provider
from jobs.fetching import run_fetch
from monitoring import recording
from runtime.resources import Resources
from runtime.settings import Settings
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet
from storage.migrate import upgrade
from storage.testing import scratch_database
from tests.conftest import require
from worker.app import make_app

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 1.5  # seconds, the whole call
READ_TIMEOUT = 10.0  # far longer: only the deadline can end a trickle or a silence this soon
SLACK = 2.0  # generous: a loaded host's scheduling, never the point of the test


def _settings(redis_url: str, database_url: str, finnhub_url: str) -> dict:
    return {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "FINNHUB_BASE_URL": finnhub_url,
            "FINNHUB_API_KEY": "deadline-key", "FINNHUB_QUOTA": "1000/second",
            "FINNHUB_DEADLINE_SECONDS": str(DEADLINE), "FINNHUB_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)}  # fmt: skip


@pytest.fixture
def migrated_url(database_url):
    with scratch_database(database_url) as url:
        upgrade(url)
        yield url


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers (nor closes them)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api/v1"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    return f"http://127.0.0.1:{port}/api/v1"


@pytest.mark.parametrize(("provider_kind", "outcome"), [("trickle", "timeout"), ("silent", "timeout"),
                                                         ("closed", "transient")])  # fmt: skip
def test_a_call_ends_inside_its_deadline_with_a_counted_outcome(
    request, redis_url, redis_client, migrated_url, sandbox_fast, provider_kind, outcome
):
    if provider_kind == "trickle":
        sandbox_fast.set_faults("finnhub", trickle_rate=1.0, trickle_bytes_per_second=1.0)
        url = sandbox_fast.base_urls["finnhub"]
    else:
        url = request.getfixturevalue("silent_server" if provider_kind == "silent" else "closed_port")
    ctx = Resources(Settings.from_env(_settings(redis_url, migrated_url, url)))
    symbol = sorted(s["symbol"] for s in sandbox_fast.universe() if s["active"])[0]
    try:
        started = time.monotonic()
        summary = run_fetch(ctx, "finnhub", lambda c: c.quote(symbol), lambda r: 0, symbol=symbol)
        took = time.monotonic() - started
    finally:
        ctx.close()
    assert summary["outcome"] == outcome, summary["message"]
    assert took < DEADLINE + SLACK
    counted = recording.counts(redis_client.hgetall(recording.CALLS_KEY), 3)
    assert counted == {("finnhub", "quote", outcome): 1.0}
    if provider_kind == "trickle":
        assert sandbox_fast.stats()["providers"]["finnhub"]["errors"] == {"trickle": 1}


# -- through a real worker ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory, sandbox_unlimited):
    """A private Redis, a migrated database, one ``finnhub`` worker whose calls go to the sandbox."""
    work = tmp_path_factory.mktemp("deadlines")
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    shared = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{work / 'tb.db'}"
    with scratch_database(shared) as url:
        upgrade(url)
        env = _settings(server.url, url, sandbox_unlimited.base_urls["finnhub"])
        command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "finnhub", "-n", "finnhub@%h",
                   "-c", "2", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle", "-l", "INFO"]  # fmt: skip
        settings = Settings.from_env(env)
        app = make_app(settings)
        app.set_current()
        ctx = Resources(settings)
        try:
            with ProcessSet(env, work / "logs", cwd=ROOT) as procs:
                procs.start("worker-finnhub", command)
                yield ctx, app
        finally:
            ctx.close()
            app.close()
            server.stop()


def _submit(ctx, run_id: str, symbols: list[str]) -> RunSpec:
    day = "2026-11-30"
    spec = RunSpec(run_id, "finnhub", "tasks.finnhub.fetch_quote", "symbol", day, kind="finnhub.refresh",
                   common={"day": day}, on_expiry="stale")  # fmt: skip
    assert ctx.backlog.submit(spec, symbols) == len(symbols)
    return spec


def _settled(ctx, run_id: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ledger = ctx.backlog.ledger(run_id)
        if ledger.done:
            return ledger
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} not settled within {timeout} s: {ctx.backlog.ledger(run_id)}")


def test_trickled_calls_through_a_worker_settle_as_timeouts_and_the_ledger_adds_up(worker, sandbox_fast):
    ctx, _app = worker
    sandbox_fast.set_faults("finnhub", trickle_rate=1.0, trickle_bytes_per_second=1.0)
    symbols = sorted(s["symbol"] for s in sandbox_fast.universe() if s["active"])[:2]
    spec = _submit(ctx, "trickled", symbols)
    assert feed_provider(ctx, "finnhub", [spec])["released"] == 2  # the feeder sends them to the worker
    ledger = _settled(ctx, spec.id)
    assert (ledger.made, ledger.outcomes, ledger.problems()) == (2, {"timeout": 2}, [])
    assert ledger.usage()["calls"] == 2 and ledger.usage()["errors"] == 2
    counted = recording.counts(ctx.redis.hgetall(recording.CALLS_KEY), 3)
    assert counted[("finnhub", "quote", "timeout")] >= 2


def test_a_call_cut_off_by_the_soft_time_limit_settles_as_a_timeout(worker, sandbox_fast):
    ctx, app = worker
    symbol = sorted(s["symbol"] for s in sandbox_fast.universe() if s["active"])[0]
    spec = _submit(ctx, "cut-off", [symbol])
    (release,) = ctx.backlog.take("finnhub", 1)
    pool = ctx.pool("api_calls")
    taken = [
        pool.acquire(timeout=5) for _ in range(ctx.settings.pools["api_calls"])
    ]  # the task waits for one
    try:
        # the feeder's message, with a soft limit far shorter than the queue's (180 s) and the pool wait (60 s)
        app.send_task(spec.task, kwargs={**spec.call_kwargs(release.key), "_dispatch": release.member},
                      soft_time_limit=1, time_limit=30)  # fmt: skip
        ledger = _settled(ctx, spec.id)
    finally:
        for lease in taken:
            lease.release()
    assert (ledger.made, ledger.outcomes, ledger.problems()) == (1, {"timeout": 1}, [])
    counted = recording.counts(ctx.redis.hgetall(recording.CALLS_KEY), 3)
    assert counted[("finnhub", "none", "timeout")] == 1  # no endpoint: the limit, not the deadline, ended it
