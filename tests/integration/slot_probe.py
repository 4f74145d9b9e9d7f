"""Test-only: loaded into a real worker with ``--include tests.integration.slot_probe`` (never by the app).

In each pool process it wraps the work of the tasks in ``HELD`` (their ``run``, which the task wrapper calls
after the calendar gate and the slot's claim): each start is noted in the Redis list ``STARTED``, the work
waits while the flag ``HOLD`` is set, and each finish is noted in ``FINISHED`` (JSON: task, id, pid). A test
can so SIGKILL the process at a known point of a beat-fired message: its slot claimed, its work not done.
While held, the work ignores a soft time limit (noted in ``SOFT``), as work stuck in native code would, so
only the hard limit ends it. Nothing of the tasks' behaviour changes.
"""

from __future__ import annotations

import json
import os
import time

import redis
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

HELD = ("tasks.planner.plan_eod", "tasks.planner.plan_refresh", "tasks.maintenance.backup")
STARTED, FINISHED, HOLD, SOFT = "test:slot:started", "test:slot:finished", "test:slot:hold", "test:slot:soft"


def _held(task, run):
    def held(*args, **kwargs):
        r = redis.Redis.from_url(os.environ["REDIS_URL"])
        note = json.dumps({"task": task.name, "id": task.request.id, "pid": os.getpid()})
        r.rpush(STARTED, note)
        while r.exists(HOLD):
            try:
                time.sleep(0.05)
            except SoftTimeLimitExceeded:
                r.rpush(SOFT, note)
        result = run(*args, **kwargs)
        r.rpush(FINISHED, note)
        return result

    return held


@worker_process_init.connect
def probe(**kwargs) -> None:
    for name in HELD:
        task = current_app.tasks[name]
        task.run = _held(task, task.run)
