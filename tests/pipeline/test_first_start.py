"""A first start through the real beat, as ``make run`` does it: a fresh box (empty database, empty Redis),
the free-profile sandbox, a worker per queue and ``celery beat``. Beat's start sends the bootstrap: within
minutes the universe is loaded and the paced two-year history is running at Polygon's free 5/minute. A
second start (every process stopped and started again, same Redis and database) redoes neither.
"""

from __future__ import annotations

import time

import pytest
import redis

from dispatch import Backlog
from runtime import keys
from sandbox.testing import SandboxError, SandboxProcess
from stack.local import LIGHT_CONCURRENCY
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet, beat_command
from storage import Database, active_symbols
from storage.migrate import upgrade
from tests.conftest import require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SYMBOLS = 120


def _wait_for(predicate, timeout: float, what: str, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _calls(sandbox, provider: str, endpoint_part: str) -> list[dict]:
    return [r for r in sandbox.requests() if r["provider"] == provider and endpoint_part in r["endpoint"]]


def test_a_fresh_box_bootstraps_itself_and_a_restart_resumes(tmp_path):
    try:
        server = RedisServer().start()
        sandbox = SandboxProcess(profile="free", symbols=SYMBOLS, seed=7, startup_timeout=180).start()
    except (RedisServerError, SandboxError) as exc:
        require(False, f"the stack could not start: {exc}")
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"REDIS_URL": server.url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(tmp_path / "data"),
           **sandbox.env(api_key="sandbox-key")}  # fmt: skip
    client = redis.Redis.from_url(server.url)
    backlog = Backlog(client)
    db = Database(url)
    try:
        upgrade(url)

        def start() -> ProcessSet:
            procs = ProcessSet(env, tmp_path / "logs", cwd=tmp_path)
            procs.start_workers(concurrency=LIGHT_CONCURRENCY, loglevel="INFO")
            procs.start("beat", beat_command())
            return procs

        procs = start()
        try:
            # the universe arrives from the listing (one Finnhub call) ...
            def universe() -> int:
                with db.session() as s:
                    return len(active_symbols(s))

            assert _wait_for(universe, 240, "universe loaded") >= SYMBOLS  # workers boot slowly on busy cores
            # ... and the history is running: one open run, calls made at the quota's pace, many pending
            run_id = _wait_for(lambda: client.get(keys.BACKFILL_RUN), 60, "history run planned").decode()
            ledger = _wait_for(lambda: (lg := backlog.ledger(run_id)) and lg.made >= 5 and lg, 90,
                               "history calls made")  # fmt: skip
            assert ledger.admitted >= 400 and ledger.pending > 0 and not ledger.problems()
            procs.check_alive()
        finally:
            procs.stop(grace=60)  # a warm shutdown: tasks waiting for a slot finish

        made_before = backlog.ledger(run_id).made
        listings = len(_calls(sandbox, "finnhub", "symbol"))
        assert listings == 1
        procs = start()
        try:
            # the history goes on: more sessions made in the same run, the universe is not asked again
            _wait_for(lambda: backlog.ledger(run_id).made >= made_before + 5, 150, "history resumed")
            assert client.get(keys.BACKFILL_RUN).decode() == run_id
            status = client.hget("tickerbeat:bootstrap", "status").decode()
            assert status.startswith(f"universe {SYMBOLS:,}") or status.startswith("universe ")
            procs.check_alive()
        finally:
            procs.stop(grace=60)  # a warm shutdown: tasks waiting for a slot finish
        assert len(_calls(sandbox, "finnhub", "symbol")) == listings
        ledger = backlog.ledger(run_id)
        assert not ledger.problems(), ledger.problems()
        # every Polygon call the sandbox answered is one the ledgers count as made (none twice, none
        # unaccounted), and the quota never pushed back
        made = sum(lg.made for lg in _ledgers(backlog) if lg.provider == "polygon")
        assert len(_calls(sandbox, "polygon", "")) == made
        assert sandbox.stats()["totals"]["throttled"] == 0
    finally:
        db.dispose()
        client.close()
        sandbox.stop()
        server.stop()


def _ledgers(backlog: Backlog):
    for key in backlog.client.scan_iter(f"{backlog.prefix}:run:*"):
        name = key.decode()
        if name.count(":") >= 3 and not name.endswith((":ok", ":keys")):
            ledger = backlog.ledger(name.removeprefix(f"{backlog.prefix}:run:"))
            if ledger is not None:
                yield ledger
