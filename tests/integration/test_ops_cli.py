"""``python -m stack.ops`` and ``make inspect`` with no worker running: real subprocesses against the private
Redis. Quota use comes from the real ``Limiter``, lines and ledgers from the real ``dispatch.Backlog``
scripts; a pause written by the command is checked through the ``Limiter`` the workers call."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import ratelimits
from dispatch import Backlog, RunSpec
from runtime.plans import PROVIDER_PLANS
from runtime.queues import BY_NAME, PROVIDERS, QUEUE_NAMES
from stack.workers import ProcessSet, worker_command
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-25"  # a Wednesday session


def _env(redis_url: str, tmp_path: Path, migrated: bool = False) -> dict:
    """The operator's environment. ``migrated``: the database exists with its schema, as once a worker has
    started (reading the quotas may restore them from the quota journal, which lives there)."""
    url = f"sqlite:///{tmp_path / 'db' / 'tb.db'}"
    if migrated:
        (tmp_path / "db").mkdir(exist_ok=True)
        upgrade(url)
    return {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": url}


def ops(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.ops", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _policy(provider: str) -> ratelimits.Policy:
    return ratelimits.parse_policy(PROVIDER_PLANS[provider]["free"].policy)  # the settings' default plan


def _line(text: str, start: str) -> str:
    (found,) = [line for line in text.splitlines() if line.startswith(start)]
    return found


def test_quotas_show_calls_acquired_through_the_limiter_and_the_line(redis_url, redis_client, tmp_path):
    limiter = ratelimits.Limiter(redis_client)
    for _ in range(3):
        limiter.acquire("finnhub", _policy("finnhub"), max_wait=1.0)
    Backlog(redis_client).submit(RunSpec("sweep", "finnhub", "tasks.finnhub.fetch_quote", "symbol", DAY,
                                         kind="finnhub.refresh"), ["A", "B", "C", "D"])  # fmt: skip
    env = _env(redis_url, tmp_path, migrated=True)

    done = ops(env, "quotas")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    finnhub = lines.index(_line(done.stdout, "finnhub "))
    assert "60/minute 3/60" in lines[finnhub] and "3 granted" in lines[finnhub], done.stdout
    assert "4 in line · 0 in flight · finnhub.refresh 0/4 made" in lines[finnhub + 1], done.stdout
    assert "0 granted" in _line(done.stdout, "polygon ")
    assert all(any(line.startswith(f"{p} ") for line in lines) for p in PROVIDERS)

    reply = json.loads(ops(env, "quotas", "finnhub", "--json").stdout)
    assert set(reply) == {"finnhub"}
    used = {w["window"]: w["used"] for w in reply["finnhub"]["windows"]}
    assert used["60/minute"] == 3 and reply["finnhub"]["granted"] == 3 and not reply["finnhub"]["blocked"]


def test_pause_pauses_and_resume_round_trip_through_the_workers_limiter(redis_url, redis_client, tmp_path):
    env = _env(redis_url, tmp_path, migrated=True)
    limiter = ratelimits.Limiter(redis_client)
    assert ops(env, "pauses").stdout.strip() == "no provider is paused or blocked"

    done = ops(env, "pause", "polygon", "--reason", "key rotation")
    assert done.returncode == 0 and "polygon paused" in done.stdout, done.stderr
    assert limiter.blocked_until("polygon") == math.inf  # what every worker's Limiter reads
    with pytest.raises(ratelimits.QuotaWait):  # a worker gets no slot
        limiter.acquire("polygon", _policy("polygon"), max_wait=1.0)
    stats = limiter.stats("polygon", _policy("polygon"))
    assert stats.block_reason == "paused by operator: key rotation"

    listed = ops(env, "pauses")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        "polygon      PAUSED (paused by operator: key rotation) until resume"
    ]
    assert json.loads(ops(env, "pauses", "--json").stdout)["polygon"]["paused"] is True
    assert "PAUSED" in _line(ops(env, "quotas").stdout, "polygon ")

    done = ops(env, "resume", "polygon")
    assert done.returncode == 0 and done.stdout.strip() == "polygon resumed"
    assert limiter.blocked_until("polygon") is None
    assert limiter.acquire("polygon", _policy("polygon"), max_wait=1.0)
    assert ops(env, "pauses").stdout.strip() == "no provider is paused or blocked"


@pytest.mark.parametrize("args", [("pause", "nope"), ("resume", "FINNHUB"), ("quotas", "iex"), ("pause",),
                                  ("pause", "")])  # fmt: skip
def test_a_bad_provider_is_one_line_naming_the_valid_ones(redis_url, redis_client, tmp_path, args):
    done = ops(_env(redis_url, tmp_path), *args)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert all(p in done.stderr for p in PROVIDERS)
    assert redis_client.keys("*") == []  # nothing written


def test_plan_bootstrap_and_dead_letters(redis_url, redis_client, tmp_path):
    backlog = Backlog(redis_client)
    backlog.submit(RunSpec("eod", "polygon", "tasks.polygon.fetch_grouped", "day", DAY, kind="polygon.eod"),
                   [DAY, "2026-11-24"], planned=3)  # fmt: skip
    for release in backlog.take("polygon", 1):
        backlog.settle("polygon", release, "made", "ok")
    redis_client.hset(
        f"tickerbeat:plan:{DAY}", "quotes:tiers=1", json.dumps({"planned": 500, "admitted": 450})
    )
    env = _env(redis_url, tmp_path)

    done = ops(env, "plan", "--day", DAY)
    assert done.returncode == 0, done.stderr
    assert "coverage 90.0 %" in _line(done.stdout, "  quotes:tiers=1")
    run = _line(done.stdout, "  eod  polygon polygon.eod")
    assert "planned 3 · admitted 2 · made 1" in run and "pending 1" in run and run.endswith("adds up")
    assert "capacity plan for 6,500 symbols: fits" in done.stdout
    assert not (tmp_path / "db").exists()  # a missing SQLite database is not created by asking
    bad = ops(env, "plan", "--day", "2026-13-01")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "2026-11-20" in bad.stderr

    assert ops(env, "bootstrap").stdout.startswith("bootstrap: no progress line yet")
    redis_client.hset("tickerbeat:bootstrap", "status", "universe 6,500 · history 137/500 sessions")
    assert ops(env, "bootstrap").stdout.strip() == "universe 6,500 · history 137/500 sessions"
    letters = ops(env, "dead-letters")
    assert letters.returncode == 0 and letters.stdout.startswith("dead letters: none recorded")
    assert not (tmp_path / "db").exists()


def test_an_unreachable_redis_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = ops(_env(f"redis://127.0.0.1:{port}/0", tmp_path), "quotas")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("tickerbeat: cannot reach Redis") and len(done.stderr.splitlines()) == 1


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_inspect_without_workers_shows_the_quotas_and_who_did_not_reply(
    redis_url, redis_client, tmp_path
):
    ratelimits.Limiter(redis_client).acquire("yahoo", _policy("yahoo"), max_wait=1.0)
    done = subprocess.run(["make", "-s", "--no-print-directory", "inspect", "INSPECT_TIMEOUT=2"], cwd=ROOT,
                          env={**_env(redis_url, tmp_path, migrated=True), "MAKEFLAGS": ""}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 granted" in _line(done.stdout, "yahoo ")
    assert "workers: none replied within 2 s" in done.stdout
    silent = _line(done.stdout, "did not reply within 2 s: the workers of ")
    assert all(q in silent for q in QUEUE_NAMES)
    assert "No nodes replied" not in done.stdout + done.stderr


@pytest.mark.slow
def test_workers_names_the_queues_whose_workers_did_not_reply(redis_url, tmp_path):
    env = {**_env(redis_url, tmp_path), "TICKERBEAT_DATA_DIR": str(tmp_path)}
    node = f"control@{socket.gethostname()}"
    with ProcessSet(env, tmp_path / "logs") as procs:
        procs.start("worker-control", worker_command(BY_NAME["control"], loglevel="INFO", concurrency=1))
        for _ in range(30):  # the worker takes a few seconds to come up
            done = ops(env, "workers", "--timeout", "2", "--json")
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            if node in report["nodes"]:
                break
        assert node in report["nodes"], done.stdout
        assert report["silent_queues"] == [q for q in QUEUE_NAMES if q != "control"]
        text = ops(env, "workers", "--timeout", "2").stdout
    assert "workers: 1 replied within 2 s" in text
    assert "queues control" in _line(text, f"  {node}")
    assert "control" not in _line(text, "did not reply within 2 s").split(": the workers of ")[1]
