"""Poison messages become dead letters: a real worker whose process a message kills on every delivery keeps
it after ``TICKERBEAT_MAX_DELIVERIES`` deliveries instead of running it for ever, goes on with its queue,
counts it, answers ``celery inspect dead_letters``; an operator lists, shows and replays it
(``python -m stack.ops dead-letters``). A dispatched call given up this way settles as failed, so its run's
ledger still adds up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from dispatch import RunSpec
from jobs import dead_letters
from monitoring import recording
from runtime import cli
from runtime.settings import Settings
from stack import ops as stack_ops
from stack.redis_server import RedisServer, RedisServerError
from stack.workers import ProcessSet
from storage import Database
from storage.migrate import upgrade
from storage.models import DeadLetter, StaleMark
from storage.testing import scratch_database
from tests.conftest import require
from tests.integration.poison_tasks import POISON, RUNS
from worker.app import make_app

ROOT = Path(__file__).resolve().parents[2]
MAX_DELIVERIES = 2
NODE = f"control@{socket.gethostname()}"


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """A private Redis, a migrated database and one ``control`` worker that also loads the poison tasks."""
    work = tmp_path_factory.mktemp("dead-letters")
    try:
        server = RedisServer().start()
    except RedisServerError as exc:
        require(False, f"no usable redis-server: {exc}")
    shared = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{work / 'tb.db'}"
    with scratch_database(shared) as url:
        upgrade(url)
        env = {"REDIS_URL": server.url, "DATABASE_URL": url, "TICKERBEAT_DATA_DIR": str(work / "data"),
               "TICKERBEAT_MAX_DELIVERIES": str(MAX_DELIVERIES)}  # fmt: skip
        command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "control", "-n", "control@%h",
                   "-c", "1", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle", "-l", "INFO",
                   "--include", "tests.integration.poison_tasks"]  # fmt: skip
        app = make_app(Settings.from_env(env))
        db = Database(url)
        try:
            with ProcessSet(env, work / "logs", cwd=ROOT) as procs:
                procs.start("worker-control", command)
                yield env, app, redis.Redis.from_url(server.url), db
        finally:
            db.dispose()
            app.close()
            server.stop()


def _ops(env: dict, *args: str) -> subprocess.CompletedProcess:
    """``python -m stack.ops dead-letters ARGS`` as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "stack.ops", "dead-letters", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture
def ops(worker, monkeypatch, capsys):
    """The same command run in this process (each subprocess costs seconds of imports): (status, out, err)."""
    for name, value in worker[0].items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            status = cli.outcome(lambda: stack_ops.main(["dead-letters", *args]))
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
        done = capsys.readouterr()
        return status, done.out, done.err

    return run


def _runs(client, label: str) -> int:
    return sum(1 for r in client.lrange(RUNS, 0, -1) if r.decode() == label)


def test_a_poison_message_is_dead_lettered_and_the_queue_keeps_flowing(worker, ops):
    env, app, client, db = worker
    client.set(POISON, "1")
    poison = app.send_task("tests.poison.crash", args=["p1"], kwargs={"n": 7})
    buried = poison.get(timeout=120)
    assert buried["dead_letter"] and buried["deliveries"] == MAX_DELIVERIES + 1
    assert _runs(client, "p1") == MAX_DELIVERIES  # each of them killed its process; the next was not run
    after = app.send_task("tests.poison.fine", args=["after"])
    assert after.get(timeout=60) == {"label": "after"}  # the queue goes on

    with db.session() as s:
        (letter,) = s.scalars(select(DeadLetter)).all()
    assert (letter.task, letter.task_id, letter.queue) == ("tests.poison.crash", poison.id, "control")
    assert (letter.args, letter.kwargs, letter.deliveries) == (["p1"], {"n": 7}, MAX_DELIVERIES + 1)
    assert letter.first_seen <= letter.last_seen and letter.replayed_at is None
    assert "delivered 3 times without finishing" in letter.reason
    counted = recording.counts(client.hgetall(recording.DEAD_LETTERS_KEY), 2)
    assert counted == {("tests.poison.crash", "control"): 1.0}
    replies = app.control.inspect(destination=[NODE], timeout=10)._request("dead_letters")
    assert replies[NODE]["waiting"] == 1 and replies[NODE]["letters"][0]["task_id"] == poison.id

    listed = _ops(env)  # the real entry point once
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("dead letters: 1 waiting for an operator, 0 replayed")
    assert f"#{letter.id}" in listed.stdout and "tests.poison.crash" in listed.stdout
    status, shown, _ = ops("show", str(letter.id))
    assert status == 0 and '["p1"]' in shown and '{"n": 7}' in shown
    for args in (("show",), ("show", "999"), ("replay", "999"), ("nonsense",)):
        status, _, err = ops(*args)
        assert status == 2 and len(err.splitlines()) == 1, err

    client.delete(POISON)  # the cause is fixed: the replay runs to the end
    status, replayed, err = ops("replay", str(letter.id))
    assert status == 0, err
    new_id = replayed.strip().rsplit(" ", 1)[1]
    assert new_id != poison.id
    assert app.AsyncResult(new_id).get(timeout=60) == {"label": "p1", "n": 7}
    with db.session() as s:
        letter = s.get(DeadLetter, letter.id)
    assert letter.replayed_as == new_id and letter.replayed_at is not None
    status, _, err = ops("replay", str(letter.id))
    assert status == 2 and "replayed already" in err


def test_a_dead_lettered_dispatched_call_is_settled_as_failed_and_its_ledger_adds_up(ctx):
    day = "2026-11-30"
    spec = RunSpec("refresh:test", "finnhub", "tasks.finnhub.fetch_quote", "symbol", day, kind="finnhub.refresh",
                   common={"day": day}, on_expiry="stale")  # fmt: skip
    ctx.backlog.submit(spec, ["AAA", "BBB"])
    first, second = ctx.backlog.take("finnhub", 2)
    kwargs = {**spec.call_kwargs(first.key), "_dispatch": first.member}
    out = dead_letters.bury_message(ctx, spec.task, "t-1", "finnhub", [], kwargs, 4, datetime.now(UTC))
    assert out["deliveries"] == 4
    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.stale, ledger.pending, ledger.outcomes.get("failed")) == (1, 1, 1)
    assert ledger.problems() == []
    ctx.backlog.settle("finnhub", second, "made", "ok")
    ledger = ctx.backlog.ledger(spec.id)
    assert ledger.done and ledger.problems() == [] and (ledger.made, ledger.stale) == (1, 1)
    with ctx.db.session() as s:
        (mark,) = s.scalars(select(StaleMark)).all()
    assert mark.symbol == first.key and "dead letter" in mark.reason


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_dead_letters_runs_the_ops_command():
    done = subprocess.run(["make", "-n", "--no-print-directory", "dead-letters", "REPLAY=3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})  # fmt: skip
    assert done.returncode == 0 and '.venv/bin/python -m stack.ops dead-letters replay "3"' in done.stdout
