"""Test-only tasks, loaded into a real worker with ``--include tests.integration.poison_tasks`` (never by the
app itself). They go through tickerbeat's task wrapper and, being of no declared queue, to ``control``.

``crash`` kills its own process while the Redis flag ``POISON`` is set, as a crash in native code or the
OOM killer would; every run is noted in the list ``RUNS`` first.
"""

from __future__ import annotations

import os

import redis

from tasks.base import tickerbeat_task

POISON = "test:poison"
RUNS = "test:poison:runs"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@tickerbeat_task(name="tests.poison.crash")
def crash(label: str, n: int = 0) -> dict:
    r = _redis()
    r.rpush(RUNS, label)
    if r.exists(POISON):
        os._exit(3)
    return {"label": label, "n": n}


@tickerbeat_task(name="tests.poison.fine")
def fine(label: str) -> dict:
    _redis().rpush(RUNS, label)
    return {"label": label}
