"""Redis stopped and started again in the middle of the night's work, first with its append-only file (the
data comes back), then without it (it comes back empty): real processes throughout, a ``redis-server``
this test starts and stops, a real Celery worker per queue, the sandbox's ``free`` profile (it counts every
throttle answer, Alpha Vantage's 25 a day included) and a private database. One stack for both restarts.

The compact part of a night that runs across them:

1. Alpha Vantage asked for 40 symbols: its free day serves 25 (the rest carried), made before the restarts;
2. the night's official bars (``plan_eod``) fired as beat fires it (``_entry``, every worker's clock at
   00:31 New York by libfaketime), with its fallbacks;
3. before each restart, a Finnhub sweep of every symbol (103): a minute's calls made (60 at most), the
   rest waiting for the next minute when Redis stops.

After each restart: beat's ``dispatch-feed`` message every minute (as beat sends it), the EOD's beat
message sent again, and Alpha Vantage asked for the 40 again; a worker that exited is started again, as
compose does. Then the night must complete: every symbol quoted once per sweep (the sweep Redis lost
re-driven from the database, for the symbols not quoted yet), every symbol with its official bar or a stale
mark, the EOD run once (two grouped calls), no second Alpha Vantage day (25 calls in all), and no throttle
answer anywhere.
"""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from sqlalchemy import select

import beat_schedule
from dispatch import Backlog
from runtime.queues import BY_NAME, PROVIDERS
from sandbox.testing import SandboxError
from stack.day import phase_instant
from stack.local import LIGHT_CONCURRENCY, day_coverage, local_stack
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import worker_command
from storage import upsert_symbols
from storage.models import DispatchRun
from tests.conftest import require
from tests.integration.test_limiter_hammer import libfaketime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SYMBOLS = 100
DAY = date(2026, 11, 20)  # a Friday session
NIGHT = phase_instant(DAY, "+1 00:31")  # a minute after the EOD entry's 00:30 slot, New York
AV_ASKED = 40  # more than Alpha Vantage's free 25 a day


@pytest.fixture
def night(tmp_path):
    fake = libfaketime()
    require(fake is not None, "libfaketime's preload library is not installed (pip install libfaketime)")
    try:
        server = RedisServer(appendonly=True).start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    clock = (
        tmp_path / "faketime"
    )  # every worker's wall clock: the night after DAY (the quota engine's is Redis's)
    clock.write_text(f"{round(NIGHT.timestamp() - time.time()):+d}s\n")
    faked = {"LD_PRELOAD": str(fake), "FAKETIME_TIMESTAMP_FILE": str(clock), "FAKETIME_CACHE_DURATION": "1",
             "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip
    try:
        with local_stack(
            tmp_path / "stack", symbols=SYMBOLS, sandbox_now=NIGHT, profile="free", redis_url=server.url,
            database_url=os.environ.get("TEST_DATABASE_URL"), private_schema=True, concurrency=LIGHT_CONCURRENCY,
            extra_env=faked, loglevel="INFO", timeout=400, say=lambda _: None,
        ) as local:  # fmt: skip
            yield server, local
    except SandboxError as exc:
        require(False, f"the sandbox could not start: {exc}")
    finally:
        server.stop()


def _universe(local) -> list[str]:
    from sandbox.universe import build_universe

    securities = build_universe(local.sandbox.seed, SYMBOLS).securities
    symbols = [s.symbol for s in securities if s.active_on(DAY)]  # listed on DAY, not yet delisted
    assert len(symbols) > 60  # more than Finnhub's free minute: the sweep spans the restart
    with local.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "name": t, "source": "test", "tier": 1} for t in symbols])
    return symbols


def _send(local, task: str, **kwargs) -> str:
    return local.driver.app.send_task(task, kwargs=kwargs).id


def _fire(local, name: str) -> str:
    """The message beat sends for entry ``name`` (``beat_schedule.beat_schedule``: kwargs and options)."""
    entry = beat_schedule.BY_NAME[name]
    return local.driver.app.send_task(
        entry.task, kwargs={**entry.kwargs, "_entry": name}, expires=entry.expires
    ).id


def _result(local, task_id: str, timeout: float = 120.0):
    backend, deadline = local.driver.app.backend, time.monotonic() + timeout
    while (meta := backend.get_task_meta(task_id, cache=False))["status"] not in ("SUCCESS", "FAILURE"):
        local.driver.check()
        assert time.monotonic() < deadline, f"task {task_id}: no result after {timeout:.0f} s"
        time.sleep(0.2)
    assert meta["status"] == "SUCCESS", meta["result"]
    return meta["result"]


def _until(local, what: str, ready, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        local.driver.check()
        assert time.monotonic() < deadline, (
            f"{what}: not within {timeout:.0f} s; logs in {local.work / 'logs'}"
        )
        time.sleep(0.25)


class Supervisor:
    """What runs around the workers in production, while the test waits: compose's ``restart:
    unless-stopped`` (a worker that exited is started again, and noted: a worker holding an unacknowledged
    message when Redis goes away exits, kombu 5.7's ``Unrecoverable error: AttributeError(... 'hostname')``
    while restoring it; the control worker always holds one, the feeder's next pass), and beat's
    ``dispatch-feed`` entry, every minute (the feeder's chain can break with the restart)."""

    def __init__(self, local) -> None:
        self.local, self.restarted, self.fed = local, [], 0.0

    def __call__(self) -> None:
        _supervise(self.local, self.restarted)
        if time.monotonic() - self.fed >= beat_schedule.BY_NAME["dispatch-feed"].every:
            self.wake()

    def wake(self) -> None:
        """Beat's ``dispatch-feed`` message, now (after a restart, beat's next one comes within a minute;
        the queues look idle meanwhile: the runs Redis lost are only in the database)."""
        _fire(self.local, "dispatch-feed")
        self.fed = time.monotonic()


def _supervise(local, restarted: list[str]) -> None:
    for name, proc in list(local.procs.procs.items()):
        if proc.poll() is not None:
            queue = name.removeprefix("worker-")
            local.procs.start(name, worker_command(BY_NAME[queue], "INFO", LIGHT_CONCURRENCY[queue]))
            restarted.append(name)


def _quiet(backlog: Backlog) -> bool:
    """No call in flight anywhere (a restart now cuts no call off between its grant and its settle)."""
    return all(backlog.depth(p)[1] == 0 for p in PROVIDERS)


def _sweep_cut_by_a_restart(
    local, server, backlog: Backlog, symbols: list[str], keep: bool, supervisor: Supervisor
) -> str:
    """A Finnhub sweep of ``symbols``, Redis restarted (``keep``: with its data) between one minute's calls
    and the next, then what beat and operators send after it; returns the sweep's run id."""
    day = DAY.isoformat()
    sweep = _result(local, _send(local, "tasks.planner.plan_refresh", tiers=[1], day=day, provider="finnhub",
                                 window_seconds=1800))  # fmt: skip
    assert sweep["admitted"] == len(symbols), sweep
    _until(local, "a minute of the sweep made",
           lambda: backlog.ledger(sweep["run"]).made >= 60 and _quiet(backlog), timeout=180)  # fmt: skip
    made = backlog.ledger(sweep["run"]).made
    assert 0 < backlog.ledger(sweep["run"]).pending == len(symbols) - made  # the rest waits for a minute

    server.stop()  # SIGTERM: with AOF, Redis writes its file out and exits
    server.appendonly = keep  # without: the file is not read, Redis comes back empty
    time.sleep(2.0)
    server.start()
    assert (backlog.ledger(sweep["run"]) is not None) is keep
    supervisor.wake()

    again = _result(local, _fire(local, "eod-bars"))  # the same beat message again: the slot ran already
    assert again == {"skipped": "already ran", "entry": "eod-bars"}, again
    av_again = _result(local, _send(local, "tasks.planner.plan_refresh", tiers=[1], day=day,
                                    provider="alphavantage", per_run=AV_ASKED, window_seconds=3600))  # fmt: skip
    assert av_again["admitted"] == 0, av_again  # the day's 25 are spent, whatever Redis remembers
    local.driver.wait_idle(f"after the restart {'with' if keep else 'without'} the data")
    ledger = backlog.ledger(sweep["run"])  # Redis's view of the sweep: all of it, or what was re-driven
    left = len(symbols) - (0 if keep else made)
    assert (ledger.admitted, ledger.made, ledger.pending) == (left, left, 0), ledger
    return sweep["run"]


def test_the_night_completes_across_redis_restarts_with_nothing_granted_or_run_twice(night):
    server, local = night
    symbols = _universe(local)
    backlog = Backlog(local.redis)
    day = DAY.isoformat()

    # 1-2. Alpha Vantage's day, and the night's official bars fired as beat fires them
    av = _result(local, _send(local, "tasks.planner.plan_refresh", tiers=[1], day=day, provider="alphavantage",
                              per_run=AV_ASKED, window_seconds=3600))  # fmt: skip
    assert (av["admitted"], av["carried"]) == (25, AV_ASKED - 25), av
    eod = _result(local, _fire(local, "eod-bars"))
    assert eod["run"] == f"eod:{day}", eod
    _until(local, "Alpha Vantage's 25 made", lambda: backlog.ledger(av["run"]).done, timeout=180)
    _until(local, "the EOD and its fallbacks done",
           lambda: all((lg := backlog.ledger(f"{k}:{day}")) is not None and lg.done
                       for k in ("eod", "eod-yahoo", "eod-alphavantage")))  # fmt: skip

    # 3. a sweep cut by each restart
    supervisor = Supervisor(local)
    local.driver.check = supervisor
    kept = _sweep_cut_by_a_restart(local, server, backlog, symbols, True, supervisor)
    lost = _sweep_cut_by_a_restart(local, server, backlog, symbols, False, supervisor)

    print(f"workers restarted after Redis came back: {supervisor.restarted}")
    stats = local.sandbox.stats()["providers"]
    assert {p: s["throttled"] for p, s in stats.items()} == {p: 0 for p in stats}, stats
    log = local.sandbox.requests()
    quotes = [r for r in log if r["provider"] == "finnhub" and r["endpoint"] == "quote"]
    # every symbol quoted once per sweep: the sweep Redis kept made them all; the one it lost was re-driven
    # for the symbols not quoted yet, and made those
    assert len(quotes) == 2 * len(symbols)
    assert stats["alphavantage"]["calls"] == 25  # no second day
    assert len([r for r in log if r["provider"] == "polygon" and r["endpoint"] == "grouped"]) == 2  # EOD once
    with local.db.session() as s:
        runs = {r.id: (r.state, r.redriven) for r in s.scalars(select(DispatchRun))}
    coverage = day_coverage(local.db, DAY)
    assert coverage.without_bar == set(), sorted(coverage.without_bar)[:10]  # a bar, or stale with a reason
    assert (runs[kept], runs[lost]) == (("done", 0), ("done", 1)), runs
    assert {state for state, _ in runs.values()} == {"done"}, runs  # every callback ran
    marks = {p: local.redis.hget(f"tickerbeat:quota:{{{p}}}:state", "ready") for p in PROVIDERS}
    server_id = local.redis.info("server")["run_id"].encode()
    assert marks == {p: server_id for p in PROVIDERS}  # every quota restored on the last server run
