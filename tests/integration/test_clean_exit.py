"""A process that drove tasks through ``stack.day.DayDriver`` exits cleanly after its Redis is gone.

The driver reads each phase's result from the Redis result backend. A result whose task launched other
tasks lists them as children; Celery's ``AsyncResult`` turns those into result objects that subscribe a
pub/sub channel each and live until interpreter exit, when their ``__del__`` tries to unsubscribe from a
Redis that ``make demo`` has already stopped: a traceback after every demo. The child process here does
what the demo does (send as the driver sends, read the result, stop Redis, exit); its stderr must be clean.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stack.redis_server import redis_server_binary
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json
    import uuid
    from datetime import UTC, datetime

    import redis

    from stack.day import DayDriver
    from stack.redis_server import RedisServer
    from worker.app import make_app
    from runtime.settings import Settings

    server = RedisServer().start()
    app = make_app(Settings.from_env({"REDIS_URL": server.url}))
    client = redis.Redis.from_url(server.url)
    driver = DayDriver(app, client, timeout=30, say=lambda _: None)
    # sent the way DayDriver.phase sends a phase (no worker: the message just waits in its queue)
    task_id = app.signature("tasks.planner.plan_backfill", kwargs={"day": "2026-11-27"}).apply_async().id
    # what a worker stores for a task that launched a group of calls: the group among its children
    group = [[str(uuid.uuid4()), None], [[[str(uuid.uuid4()), None], None] for _ in range(3)]]
    meta = {"status": "SUCCESS", "result": {"day": "2026-11-27", "admitted": 3}, "traceback": None,
            "children": [group], "date_done": datetime.now(UTC).isoformat(), "task_id": task_id}
    client.set(app.backend.get_key_for_task(task_id), app.backend.encode(meta))
    print(json.dumps(driver._result(task_id, "history")))
    client.close()
    server.stop()
    """
)


def test_the_driver_leaves_nothing_to_clean_up_after_redis_stops(tmp_path):
    require(redis_server_binary() is not None, "no redis-server binary")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"day": "2026-11-27", "admitted": 3}'
    assert "Traceback" not in done.stderr, done.stderr


def test_a_failed_phase_raises_its_exception(redis_url, redis_client):
    from runtime.settings import Settings
    from stack.day import DayDriver
    from worker.app import make_app

    app = make_app(Settings.from_env({"REDIS_URL": redis_url}))
    driver = DayDriver(app, redis_client, timeout=5, say=lambda _: None)
    app.backend.mark_as_failure("failed-phase", ValueError("no usable panel"))
    with pytest.raises(ValueError, match="no usable panel"):
        driver._result("failed-phase", "analysis")
    with pytest.raises(TimeoutError, match="analysis: no result after 0 s"):
        DayDriver(app, redis_client, timeout=0.3, say=lambda _: None)._result("never-sent", "analysis")
