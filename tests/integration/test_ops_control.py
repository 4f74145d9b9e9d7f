"""tickerbeat's own ``celery inspect quotas|plan`` and ``celery control pause_provider|resume_provider``:
the pure reports from tables, then the real ``celery`` CLI against a real worker on the private Redis."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import redis

import ratelimits
from ratelimits import ProviderStats, WindowStats
from runtime.plans import PROVIDER_PLANS
from runtime.queues import BY_NAME, PROVIDERS
from stack.workers import ProcessSet, worker_command
from worker.control import PAUSE_REASON, check_provider, plan_day, plan_report, quota_report

ROOT = Path(__file__).resolve().parents[2]
NODE = f"control@{socket.gethostname()}"  # worker_command names a queue's worker <queue>@%h
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _stats(windows=(), until=None, reason=None, **counters) -> ProviderStats:
    base = {"granted": 0, "waited": 0, "wait_seconds": 0.0, "refused": 0, "violations": 0}
    return ProviderStats("finnhub", list(windows), until, reason, **{**base, **counters}, at=T0)


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        (_stats(), {"blocked": False, "blocked_until": None, "blocked_indefinitely": False, "windows": []}),
        (
            _stats(until=math.inf, reason=PAUSE_REASON),
            {"blocked": True, "blocked_until": None, "blocked_for_seconds": None, "blocked_indefinitely": True,
             "block_reason": PAUSE_REASON},
        ),
        (
            _stats(until=T0 + 90.5, reason="429", violations=2),
            {"blocked": True, "blocked_until": "2027-01-15T08:01:30.500Z", "blocked_for_seconds": 90.5,
             "blocked_indefinitely": False, "violations": 2},
        ),
        (
            _stats([WindowStats("60/minute", 60, 60.0, 42, T0 + 12.25), WindowStats("30/second", 30, 1.0, 0, None)],
                   granted=1000, waited=7, wait_seconds=3.14159, refused=1),
            {"windows": [
                {"window": "60/minute", "used": 42, "limit": 60, "seconds": 60.0,
                 "next_reset": "2027-01-15T08:00:12.250Z", "next_reset_in_seconds": 12.25},
                {"window": "30/second", "used": 0, "limit": 30, "seconds": 1.0, "next_reset": None,
                 "next_reset_in_seconds": None}],
             "granted": 1000, "waited": 7, "wait_seconds": 3.142, "refused": 1, "at": "2027-01-15T08:00:00.000Z"},
        ),
    ],
    ids=["idle", "paused", "throttled", "windows"],
)  # fmt: skip
def test_quota_report(stats, expected):
    report = quota_report(stats, "30/second, 60/minute")
    assert {k: report[k] for k in expected} == expected
    assert report["policy"] == "30/second, 60/minute"
    json.dumps(report, allow_nan=False)  # JSON-safe: no infinity, no NaN


@pytest.mark.parametrize(
    ("recorded", "entries"),
    [
        ({}, {}),
        (
            {b"quotes:tiers=1": b'{"planned": 500, "admitted": 400, "carried": 100, "batches": 2}'},
            {"quotes:tiers=1": {"planned": 500, "admitted": 400, "carried": 100, "batches": 2, "coverage": 0.8}},
        ),
        ({"eod": '{"grouped": ["2026-11-20"]}'}, {"eod": {"grouped": ["2026-11-20"]}}),
        ({"backfill": '{"planned": 0, "admitted": 0}'}, {"backfill": {"planned": 0, "admitted": 0}}),
        ({"odd": "not json"}, {"odd": {"unreadable": "not json"}}),
    ],
)  # fmt: skip
def test_plan_report(recorded, entries):
    report = plan_report("2026-11-20", recorded, True, ["line"], 6500)
    assert report["entries"] == entries and report["recorded"] == bool(entries)
    assert report["capacity"] == {"universe": 6500, "fits": True, "plan": ["line"]}


@pytest.mark.parametrize(
    ("today", "day"),
    [
        (date(2026, 11, 20), "2026-11-20"),  # a Friday session
        (date(2026, 11, 21), "2026-11-20"),  # Saturday -> Friday
        (date(2026, 11, 26), "2026-11-25"),  # Thanksgiving -> Wednesday
        (date(2026, 11, 30), "2026-11-30"),
    ],
)
def test_plan_day(today, day):
    assert plan_day(today) == day


@pytest.mark.parametrize("name", [None, "", "FINNHUB", "iex", "finnhub "])
def test_unknown_providers_are_refused(name):
    assert "choose one of finnhub" in check_provider(name)


@pytest.mark.parametrize("name", PROVIDERS)
def test_declared_providers_are_accepted(name):
    assert check_provider(name) is None


@pytest.mark.parametrize(("kind", "commands"), [("inspect", ("quotas", "plan")),
                                                ("control", ("pause_provider", "resume_provider"))])  # fmt: skip
def test_the_celery_cli_lists_the_commands(kind, commands):
    """A fresh ``celery -A worker`` process knows them: loading the app registers them."""
    done = _celery({}, kind, "--list")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert set(commands) <= listed


# -- the real CLI against a real worker ---------------------------------------------------------------------


def _celery(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "celery", "-A", "worker", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _reply(env: dict, *args: str) -> dict:
    """The one worker's JSON reply to an inspect/control command (retried while the worker starts)."""
    deadline = time.monotonic() + 60
    while True:
        # a named destination: the CLI returns on the reply instead of waiting out the timeout
        done = _celery(env, *args, "--json", "--timeout", "10", "--destination", NODE)
        if done.returncode == 0:
            replies = json.loads(done.stdout)
            if isinstance(replies, list):  # control replies: [{node: reply}]
                replies = {k: v for r in replies for k, v in r.items()}
            (reply,) = replies.values()
            return reply
        assert time.monotonic() < deadline, done.stderr[-2000:]
        time.sleep(1)


@pytest.fixture
def control_worker(redis_url, tmp_path):
    env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'tickerbeat.db'}",
           "TICKERBEAT_DATA_DIR": str(tmp_path)}  # fmt: skip
    with ProcessSet(env, tmp_path / "logs") as procs:
        procs.start("worker-control", worker_command(BY_NAME["control"], loglevel="INFO", concurrency=1))
        yield env


@pytest.mark.slow
def test_cli_inspect_and_control_through_a_worker(control_worker, redis_url):
    env = control_worker
    idle = _reply(env, "inspect", "quotas")  # waits for the worker to come up
    assert all(p["granted"] == 0 and not p["blocked"] for p in idle.values())
    client = redis.Redis.from_url(redis_url)
    limiter = ratelimits.Limiter(client)
    finnhub = ratelimits.parse_policy(PROVIDER_PLANS["finnhub"]["free"].policy)
    for _ in range(3):
        limiter.acquire("finnhub", finnhub, max_wait=1.0)
    limiter.report_throttle(
        "polygon", ratelimits.parse_policy(PROVIDER_PLANS["polygon"]["free"].policy), retry_after=600
    )

    quotas = _reply(env, "inspect", "quotas")
    assert set(quotas) == set(PROVIDERS)
    used = {w["window"]: w["used"] for w in quotas["finnhub"]["windows"]}
    assert used["60/minute"] == 3 and used["30/second"] <= 3  # the second may have passed
    assert quotas["finnhub"]["granted"] == 3 and quotas["finnhub"]["violations"] == 0
    assert quotas["polygon"]["violations"] == 1 and quotas["polygon"]["blocked"]
    assert 500 <= quotas["polygon"]["blocked_for_seconds"] <= 600
    assert not quotas["yahoo"]["blocked"]

    assert "paused" in _reply(env, "control", "pause_provider", "yahoo")["ok"]
    assert limiter.blocked_until("yahoo") == math.inf
    yahoo = _reply(env, "inspect", "quotas")["yahoo"]
    assert yahoo["blocked_indefinitely"] and yahoo["block_reason"] == PAUSE_REASON
    assert "resumed" in _reply(env, "control", "resume_provider", "yahoo")["ok"]
    assert limiter.blocked_until("yahoo") is None
    assert "resumed" in _reply(env, "control", "resume_provider", "polygon")["ok"]
    assert limiter.blocked_until("polygon") is None

    refused = _reply(env, "control", "pause_provider", "nosuch")
    assert "unknown provider 'nosuch'" in refused["error"]
    assert limiter.blocked_until("nosuch") is None

    client.hset("tickerbeat:plan:2026-11-20", "quotes:tiers=1",
                json.dumps({"planned": 500, "admitted": 450, "carried": 50, "batches": 2}))  # fmt: skip
    plan = _reply(env, "inspect", "plan", "2026-11-20")
    assert plan["entries"]["quotes:tiers=1"]["coverage"] == 0.9
    assert plan["capacity"]["fits"] is True and plan["capacity"]["universe"] == 6500

    unknown = _celery(env, "inspect", "nosuchcommand")
    assert unknown.returncode != 0 and "not recognized" in unknown.stderr
    client.close()
