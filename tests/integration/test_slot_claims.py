"""Beat slots survive a SIGKILL: a real worker is killed while it runs a beat-fired message (sent as beat
sends it, ``_entry=<name>``, at an instant the calendar gate accepts) of the night's ``plan_eod``, a quote
sweep (``plan_refresh``) and the backup; the redelivered message runs and finishes its own slot, exactly
once (even when it comes back after the gate's window), and a duplicate message for the slot is skipped,
while the slot runs and after it is done. A slot whose work the hard time limit kills is marked failed by
the worker's main process, and the next message for it takes it over.

The worker's clock is set to each entry's instant with libfaketime (an offset read from a file, so one
worker serves every case); ``tests/integration/slot_probe.py`` holds the work after the wrapper's gate and
claim, so the kill lands at a known point.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

import beat_schedule
from runtime.settings import Settings
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet
from storage import Database, slot_claim
from storage.backup import backup_files
from storage.migrate import upgrade
from storage.testing import scratch_database
from tests.conftest import require
from tests.integration.slot_probe import FINISHED, HOLD, SOFT, STARTED
from tests.integration.test_limiter_hammer import libfaketime
from worker.app import make_app

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
# (entry, an instant its gate accepts): the night after Monday 2026-11-30's session, and that session's close.
CASES = [
    ("eod-bars", datetime(2026, 12, 1, 5, 31, tzinfo=UTC)),  # 00:31 New York
    ("tier2-quotes-close", datetime(2026, 11, 30, 21, 1, tzinfo=UTC)),  # 16:01
    ("backup", datetime(2026, 12, 1, 8, 31, tzinfo=UTC)),  # 03:31
]


class Stack:
    def __init__(self, env, app, client, db, clock: Path) -> None:
        self.env, self.app, self.redis, self.db, self.clock = env, app, client, db, clock

    def set_clock(self, at: datetime) -> None:
        """The worker's wall clock reads ``at`` from now on (libfaketime reads the file at every clock read)."""
        part = self.clock.with_suffix(".part")
        part.write_text(f"{round(at.timestamp() - time.time()):+d}s\n")
        part.replace(self.clock)  # whole, never half-written, when a process reads it

    def fire(self, entry: beat_schedule.Entry, **options):
        """The message beat sends for ``entry`` (``options``: Celery's, e.g. time limits of its own)."""
        return self.app.send_task(entry.task, kwargs={**entry.kwargs, "_entry": entry.name}, **options)

    def claim_when(self, entry: str, slot: str, done, timeout: float = 30):
        """The slot's claim once ``done(claim)`` holds (it is written by another process, soon after)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.db.session() as s:
                claim = slot_claim(s, entry, slot)
            if (claim is not None and done(claim)) or time.monotonic() > deadline:
                return claim
            time.sleep(0.1)

    def notes(self, key: str, task_id: str) -> list[dict]:
        return [n for n in (json.loads(raw) for raw in self.redis.lrange(key, 0, -1)) if n["id"] == task_id]

    def wait_started(self, message, times: int, timeout: float = 60) -> dict:
        """The probe's note of the ``times``-th start of ``message``'s work; fails at once when the message
        ended without starting it that often (skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.notes(STARTED, message.id)
            if len(started) >= times:
                return started[-1]
            assert not message.ready(), f"the message ended without running its work: {message.result!r}"
            time.sleep(0.05)
        raise AssertionError(f"the work of {message.id} did not start {times} times within {timeout} s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    fake = libfaketime()
    require(fake is not None, "libfaketime's preload library is not installed (pip install libfaketime)")
    work = tmp_path_factory.mktemp("slots")
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    clock = work / "faketime"
    clock.write_text("+0s\n")
    shared = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{work / 'tb.db'}"
    with scratch_database(shared) as url:
        upgrade(url)
        env = {"REDIS_URL": server.url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(work / "data")}
        faked = {"LD_PRELOAD": str(fake), "FAKETIME_TIMESTAMP_FILE": str(clock), "FAKETIME_NO_CACHE": "1",
                 "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip
        command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "control,maintenance",
                   "-n", "slots@%h", "-c", "2", "--prefetch-multiplier", "1", "--without-gossip",
                   "--without-mingle", "-l", "INFO", "--include", "tests.integration.slot_probe"]  # fmt: skip
        app = make_app(Settings.from_env(env))
        client = redis.Redis.from_url(server.url)
        db = Database(url)
        try:
            with ProcessSet({**env, **faked}, work / "logs", cwd=ROOT) as procs:
                procs.start("worker", command)
                yield Stack(env, app, client, db, clock)
        finally:
            db.dispose()
            client.close()
            app.close()
            server.stop()


@pytest.fixture
def released(stack):
    """The probe's hold is lifted after each case, passed or failed, so no held work outlives it."""
    yield stack
    stack.redis.delete(HOLD)


@pytest.mark.parametrize(("name", "at"), CASES, ids=[c[0] for c in CASES])
def test_a_killed_beat_slot_is_finished_by_its_redelivery_exactly_once(released, name, at):
    stack = released
    entry = beat_schedule.BY_NAME[name]
    slot = beat_schedule.due(entry, at).key
    stack.set_clock(at)
    stack.redis.set(HOLD, "1")
    message = stack.fire(entry)
    first = stack.wait_started(message, 1, timeout=120)  # the worker may still be starting

    duplicate = stack.fire(entry)  # a second message for the slot while the first runs: skipped
    skipped = duplicate.get(timeout=60)

    # Two hours on, as if the message came back after the visibility timeout: the gate would now say "not
    # due", but a redelivery runs the slot its first delivery claimed.
    stack.set_clock(at + timedelta(hours=2))
    os.kill(first["pid"], signal.SIGKILL)  # the pool process running the slot's work
    stack.wait_started(message, 2)  # delivered again, and its own claim lets it run
    stack.redis.delete(HOLD)
    result = message.get(timeout=120)
    assert "skipped" not in result, result
    assert len(stack.notes(FINISHED, message.id)) == 1  # the work ran to its end once
    assert skipped == {"skipped": skipped["skipped"], "entry": name}
    assert skipped["skipped"].startswith(f"running as {message.id}")

    with stack.db.session() as s:
        claim = slot_claim(s, name, slot)
    assert (claim.task_id, claim.state, claim.attempts) == (message.id, "done", 2)
    assert claim.finished_at is not None and claim.reason is None

    stack.set_clock(at)
    late = stack.fire(entry).get(timeout=60)  # a duplicate once the slot is done
    assert late == {"skipped": "already ran", "entry": name}
    assert len(stack.notes(STARTED, message.id)) == 2  # neither duplicate reached the work
    finished = [json.loads(raw) for raw in stack.redis.lrange(FINISHED, 0, -1)]
    assert [n["id"] for n in finished if n["task"] == entry.task] == [message.id]
    if name == "backup":
        assert len(backup_files(Path(stack.env["TICKERBEAT_DATA_DIR"]) / "backups")) == 1


def test_a_slot_killed_at_its_hard_time_limit_is_failed_and_taken_over(released):
    stack = released
    entry, at = beat_schedule.BY_NAME["backup"], datetime(2026, 12, 2, 8, 31, tzinfo=UTC)  # after Dec 1
    slot = beat_schedule.due(entry, at).key
    stack.set_clock(at)
    stack.redis.set(HOLD, "1")
    # limits of its own, short: the held work ignores the soft one, the worker kills it at the hard one
    stuck = stack.fire(entry, soft_time_limit=1, time_limit=3)
    stack.wait_started(stuck, 1, timeout=120)
    stuck.get(timeout=60, propagate=False)
    assert stuck.state == "FAILURE" and stack.notes(SOFT, stuck.id)
    claim = stack.claim_when(entry.name, slot, lambda c: c.state != "running")  # the main process gives it up
    assert (claim.task_id, claim.state) == (stuck.id, "failed")
    assert "hard time limit (3" in claim.reason

    stack.redis.delete(HOLD)
    again = stack.fire(entry)  # the next message for the failed slot takes it over
    result = again.get(timeout=120)
    assert "skipped" not in result and Path(result["backup"]).stem == f"tickerbeat-{slot[:10]}"
    with stack.db.session() as s:
        claim = slot_claim(s, entry.name, slot)
    assert (claim.task_id, claim.state, claim.attempts, claim.reason) == (again.id, "done", 2, None)
